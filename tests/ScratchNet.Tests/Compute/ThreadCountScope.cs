using ScratchNet.Compute;

namespace ScratchNet.Tests.Compute;

/// <summary>
/// Sets the process-wide <see cref="Threading.ThreadCount"/> for a using block and restores it after. Tests that
/// use it belong to <see cref="GlobalStateCollection"/>, which xunit runs alone.
/// </summary>
internal sealed class ThreadCountScope : IDisposable
{
    private readonly int _previous = Threading.ThreadCount;

    public ThreadCountScope(int threads) => Threading.ThreadCount = threads;

    public void Dispose() => Threading.ThreadCount = _previous;
}
