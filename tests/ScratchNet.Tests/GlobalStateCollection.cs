namespace ScratchNet.Tests;

/// <summary>Tests that change process-wide settings (the kernel thread count) run alone, not beside other tests.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GlobalStateCollection
{
    public const string Name = "Global state";
}
