namespace ScratchNet.Tests;

/// <summary>What a warm call allocates on the calling thread, for the tests that it allocates nothing.</summary>
internal static class Allocations
{
    /// <summary>
    /// The fewest bytes <paramref name="warmCall"/> allocated on this thread over <paramref name="windows"/> calls. One
    /// CI run saw 7,408 bytes once in a warm augmented gather, which allocates nothing of its own, and two full runs of
    /// the same build right after it saw none: a one-off whose moment depends on the tests around it (the runtime's
    /// own work on the thread, such as a method compiled again at a higher tier, is the likely source; it was not
    /// traced). An allocation of the code under test recurs in every window, so the least of a few still shows it.
    /// </summary>
    public static long Least(Action warmCall, int windows = 3)
    {
        long least = long.MaxValue;
        for (int i = 0; i < windows; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            warmCall();
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        return least;
    }
}
