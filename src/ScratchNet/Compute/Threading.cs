namespace ScratchNet.Compute;

/// <summary>
/// How many threads the kernels may use. Every kernel splits its output so that each element is
/// computed by exactly one thread in a fixed order, so results never depend on this setting.
/// </summary>
public static class Threading
{
    private static int _threadCount = Environment.ProcessorCount;

    /// <summary>Maximum threads per kernel call; defaults to the processor count.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to less than 1.</exception>
    public static int ThreadCount
    {
        get => _threadCount;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1, nameof(ThreadCount));
            _threadCount = value;
        }
    }
}
