using System.Runtime.InteropServices;
using ScratchNet.Training;

namespace ScratchNet.Tests.Training;

/// <summary>
/// A process group of threads in this process, for testing data parallelism without MPI: each member is one rank,
/// every collective meets at a barrier, and sums run in rank order (so <see cref="IProcessGroup.AllReduceSum{T}"/> is
/// the ordered sum here).
/// </summary>
internal sealed class ThreadProcessGroup
{
    private readonly Barrier _barrier;
    private readonly Array?[] _slots;

    private ThreadProcessGroup(int size)
    {
        _barrier = new Barrier(size);
        _slots = new Array?[size];
        Members = [.. Enumerable.Range(0, size).Select(rank => new Member(this, rank))];
    }

    public IReadOnlyList<IProcessGroup> Members { get; }

    /// <summary>The length of every <see cref="IProcessGroup.StartAllReduceSum{T}"/> rank 0 made, in order.</summary>
    public List<int> Started { get; } = [];

    /// <summary>The length sent by every <see cref="IProcessGroup.StartAllGather{T}"/> rank 0 made, in order.</summary>
    public List<int> StartedGathers { get; } = [];

    /// <summary>Runs <paramref name="work"/> on <paramref name="size"/> threads, one rank each; returns their results in rank order.</summary>
    public static TResult[] Run<TResult>(int size, Func<IProcessGroup, TResult> work) => Run(size, work, out _);

    /// <summary>As <see cref="Run{TResult}(int, Func{IProcessGroup, TResult})"/>, giving the group for its records.</summary>
    public static TResult[] Run<TResult>(int size, Func<IProcessGroup, TResult> work, out ThreadProcessGroup used)
    {
        var group = used = new ThreadProcessGroup(size);
        var results = new TResult[size];
        var failures = new Exception?[size];
        var threads = group.Members.Select((member, rank) => new Thread(() =>
        {
            try { results[rank] = work(member); }
            catch (Exception e)
            {
                failures[rank] = e;
                group._barrier.Dispose();   // the others fail at their next collective instead of waiting forever
            }
        }, maxStackSize: 16 << 20)).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        if (failures.FirstOrDefault(f => f is not null and not ObjectDisposedException) is { } failure) throw new AggregateException(failure);
        if (failures.FirstOrDefault(f => f is not null) is { } other) throw new AggregateException(other);
        return results;
    }

    private sealed class Member(ThreadProcessGroup group, int rank) : IProcessGroup
    {
        public int Rank => rank;
        public int Size => group._slots.Length;

        public void Broadcast<T>(Span<T> buffer) where T : unmanaged
        {
            if (rank == 0) group._slots[0] = buffer.ToArray();
            group._barrier.SignalAndWait();
            if (rank != 0) ((T[])group._slots[0]!).CopyTo(buffer);
            group._barrier.SignalAndWait();
        }

        public void AllGather<T>(ReadOnlySpan<T> mine, Span<T> all) where T : unmanaged
        {
            group._slots[rank] = mine.ToArray();
            group._barrier.SignalAndWait();
            for (int r = 0; r < Size; r++) ((T[])group._slots[r]!).CopyTo(all[(r * mine.Length)..]);
            group._barrier.SignalAndWait();
        }

        public void AllReduceSum<T>(Span<T> buffer) where T : unmanaged
        {
            var all = new T[buffer.Length * Size];
            AllGather<T>(buffer, all);
            if (typeof(T) == typeof(float)) Sum(MemoryMarshal.Cast<T, float>(all), MemoryMarshal.Cast<T, float>(buffer));
            else if (typeof(T) == typeof(double)) Sum(MemoryMarshal.Cast<T, double>(all), MemoryMarshal.Cast<T, double>(buffer));
            else if (typeof(T) == typeof(int)) Sum(MemoryMarshal.Cast<T, int>(all), MemoryMarshal.Cast<T, int>(buffer));
            else Sum(MemoryMarshal.Cast<T, long>(all), MemoryMarshal.Cast<T, long>(buffer));
        }

        public IPendingReduction StartAllReduceSum<T>(Memory<T> buffer) where T : unmanaged
        {
            if (rank == 0) group.Started.Add(buffer.Length);
            AllReduceSum(buffer.Span);
            return new Done();
        }

        public IPendingReduction StartAllGather<T>(Memory<T> mine, Memory<T> all) where T : unmanaged
        {
            if (rank == 0) group.StartedGathers.Add(mine.Length);
            AllGather<T>(mine.Span, all.Span);
            return new Done();
        }

        private static void Sum<TValue>(ReadOnlySpan<TValue> all, Span<TValue> sum) where TValue : System.Numerics.INumber<TValue>
        {
            all[..sum.Length].CopyTo(sum);
            for (int r = 1; r < all.Length / sum.Length; r++)
                for (int i = 0; i < sum.Length; i++) sum[i] += all[r * sum.Length + i];
        }

        private sealed class Done : IPendingReduction
        {
            public void Wait() { }

            public bool Poll() => true;
        }
    }
}
