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
            for (int w = 0; w < parts - 1; w++) failure ??= _workers[w].Join();
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

    private sealed class Worker
    {
        private const int SpinIterations = 2_000; // tens of microseconds: the gap between kernels in a step, not between steps of other work
        private readonly ManualResetEventSlim _wake = new(false);
        private IParallelWork? _work;
        private int _part, _parts;
        private volatile bool _busy;
        private Exception? _failure;

        public Worker(int index)
        {
            var thread = new Thread(Loop) { IsBackground = true, Name = $"ScratchNet kernel worker {index}" };
            thread.Start();
        }

        public void Post(IParallelWork work, int part, int parts)
        {
            _part = part;
            _parts = parts;
            _failure = null;
            _busy = true; // before the work is visible, or a quick worker could clear it first
            Volatile.Write(ref _work, work);
            _wake.Set();
        }

        public Exception? Join()
        {
            var spinner = new SpinWait();
            while (_busy) spinner.SpinOnce(sleep1Threshold: -1);
            return _failure;
        }

        private void Loop()
        {
            while (true)
            {
                // Spin a little first: in a training step the next job follows within microseconds.
                for (int i = 0; i < SpinIterations && Volatile.Read(ref _work) is null; i++) Thread.SpinWait(1);
                if (Volatile.Read(ref _work) is null)
                {
                    _wake.Wait();
                }
                _wake.Reset();
                var work = Volatile.Read(ref _work);
                if (work is null) continue;
                try { work.Execute(_part, _parts); }
                catch (Exception e) { _failure = e; }
                Volatile.Write(ref _work, null);
                _busy = false;
            }
        }
    }
}
