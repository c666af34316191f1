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

    /// <summary>
    /// Runs <paramref name="body"/> over [0, <paramref name="count"/>) in up to <see cref="ThreadCount"/>
    /// contiguous chunks, or inline when <paramref name="work"/> (a rough multiply-add count) is too
    /// small to repay waking other threads.
    /// </summary>
    internal static void ForChunks(int count, long work, Action<int, int> body)
    {
        const long MinWorkPerThread = 1 << 16;
        int chunks = (int)Math.Min(Math.Min(ThreadCount, count), Math.Max(1, work / MinWorkPerThread));
        if (chunks <= 1)
        {
            body(0, count);
            return;
        }
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = chunks }, chunk =>
        {
            int start = (int)((long)count * chunk / chunks);
            int end = (int)((long)count * (chunk + 1) / chunks);
            body(start, end);
        });
    }
}
