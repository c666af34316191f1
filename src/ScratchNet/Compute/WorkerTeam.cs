namespace ScratchNet.Compute;

/// <summary>One piece of a parallel job: <see cref="Execute"/> runs part <c>part</c> of <c>parts</c>.</summary>
internal interface IParallelWork
{
    /// <summary>Runs one part. Parts must write disjoint outputs.</summary>
    void Execute(int part, int parts);
}

/// <summary>
/// A fixed team of worker threads for the kernels. Unlike <c>Parallel.For</c> it allocates nothing per
/// job, and its workers spin briefly before sleeping, so a training step at batch 1, which runs a few
/// dozen short parallel kernels, does not pay a wake-up for each.
/// </summary>
internal static class WorkerTeam
{
    private static readonly object Gate = new();
    private static Worker[] _workers = [];

    /// <summary>
    /// Runs parts 0..<paramref name="parts"/>−1 of <paramref name="work"/>, part 0 on the calling thread.
    /// When the team is busy (a kernel called from inside a kernel, or from two threads), runs every part
    /// on the calling thread instead: the result is the same, since parts are independent.
    /// </summary>
    public static void Run(int parts, IParallelWork work)
    {
        if (parts <= 1 || !Monitor.TryEnter(Gate))
        {
            for (int part = 0; part < parts; part++) work.Execute(part, parts);
            return;
        }
        try
        {
            if (_workers.Length < parts - 1) Grow(parts - 1);
            for (int w = 0; w < parts - 1; w++) _workers[w].Post(work, w + 1, parts);
            Exception? failure = null;
            try { work.Execute(0, parts); }
            catch (Exception e) { failure = e; }
            for (int w = 0; w < parts - 1; w++)
            {
                var workerFailure = _workers[w].Join();   // every worker must be joined, failed or not
                failure ??= workerFailure;
            }
            if (failure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
        finally
        {
            Monitor.Exit(Gate);
        }
    }

    private static void Grow(int count)
    {
        var workers = new Worker[count];
        Array.Copy(_workers, workers, _workers.Length);
        for (int w = _workers.Length; w < count; w++) workers[w] = new Worker(w + 1);
        _workers = workers;
    }

    // A worker's part moves Idle → Posted → Running → Done → Idle; or, when the worker has not picked
    // it up by the time the caller is ready to wait, Posted → Stolen and the caller runs it itself. On a
    // machine busy with other processes a sleeping worker can take a scheduler tick to wake; stealing
    // turns that wait into a single-threaded part instead.
    private sealed class Worker
    {
        private const int Idle = 0, Posted = 1, Running = 2, Done = 3, Stolen = 4;
        private const int SpinIterations = 4_000; // tens of microseconds: the gap between kernels in a step
        private readonly ManualResetEventSlim _wake = new(false);
        private IParallelWork? _work;
        private int _part, _parts;
        private int _state;
        private Exception? _failure;

        public Worker(int index)
        {
            var thread = new Thread(Loop) { IsBackground = true, Name = $"ScratchNet kernel worker {index}" };
            thread.Start();
        }

        public void Post(IParallelWork work, int part, int parts)
        {
            (_work, _part, _parts, _failure) = (work, part, parts, null);
            Volatile.Write(ref _state, Posted);
            _wake.Set();
        }

        public Exception? Join()
        {
            if (Interlocked.CompareExchange(ref _state, Stolen, Posted) == Posted)
            {
                try { _work!.Execute(_part, _parts); }
                catch (Exception e) { _failure = e; }
            }
            else
            {
                var spinner = new SpinWait();
                while (Volatile.Read(ref _state) != Done) spinner.SpinOnce(sleep1Threshold: -1);
            }
            _work = null;
            Volatile.Write(ref _state, Idle);
            return _failure;
        }

        private void Loop()
        {
            while (true)
            {
                for (int i = 0; i < SpinIterations && Volatile.Read(ref _state) != Posted; i++) Thread.SpinWait(1);
                if (Volatile.Read(ref _state) != Posted)
                {
                    _wake.Wait();
                    _wake.Reset();
                    continue;
                }
                if (Interlocked.CompareExchange(ref _state, Running, Posted) != Posted) continue; // the caller stole it
                try { _work!.Execute(_part, _parts); }
                catch (Exception e) { _failure = e; }
                Volatile.Write(ref _state, Done);
            }
        }
    }
}
