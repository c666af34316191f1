using System.Numerics;
using System.Numerics.Tensors;
using ScratchNet.Data;
using ScratchNet.Layers;
using ScratchNet.Optimizers;

namespace ScratchNet.Training;

/// <summary>
/// A training step over parts of a batch: gradient accumulation in one process (<see cref="TrainOptions.Accumulate"/>),
/// data parallelism over a process group (<see cref="TrainOptions.Processes"/>), or both. All split a batch of c rows into
/// the same P = ranks × accumulate parts (part p: rows c·p/P to c·(p + 1)/P; rank r computes parts r, r + ranks, …, one
/// micro-batch after another), weight part p's mean gradient by its share of the batch, and sum the parts in order p,
/// so that N ranks with the ordered reduction give bit for bit the weights of accumulating N parts in one process.
/// The gradients travel in buckets of about 1 MB, from the last layer back, each started as soon as its layers' backward
/// is done, so that communication overlaps the rest of the backward pass: the ordered reduction all-gathers every bucket
/// (summed in rank order once all have arrived), the fast one all-reduces it. A network on a device computes its backward
/// there and hands the whole gradient to the host, which starts every bucket then, reduces, and sends the sum back for the
/// device's optimiser step (the gradients are staged through the host). Gradients are kept (the optimiser steps
/// <see cref="Network{T}.Gradients"/>): the fused SGD path of <see cref="Network{T}.TrainStep"/> never stores them, so it is not used here.
/// </summary>
internal sealed class DataParallel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    // Buckets: gradient ranges of whole layers, from the last layer back, of at least this many bytes (but the first layers').
    private const int BucketBytes = 1 << 20;

    private readonly Network<T> _network;
    private readonly IProcessGroup? _group;
    private readonly GradientReduction _reduction;
    private readonly int _ranks, _rank, _microBatches;    // micro-batches per rank and step: the accumulation count
    private readonly List<Layer<T>> _randomLayers;        // layers that draw in training (dropout), skipped over others' rows
    private readonly Matrix<T> _x, _y;                    // this part's rows
    private readonly T[] _accumulated;                    // the ordered sum of the parts so far (accumulating, or several micro-batches per rank)
    private readonly Memory<T> _gathered;                 // ordered: bucket [s, e) of every rank, rank after rank, at [ranks·s, ranks·e)
    private readonly double[] _mine;                      // this rank's weighted loss per micro-batch, then its cancellation flag
    private readonly double[] _all;
    private readonly (int Start, int End)[] _buckets;     // from the last layer back, covering every gradient
    private readonly List<IPendingReduction> _inFlight = new(64);
    private readonly Action<int, int> _gradientsReady;
    private int _nextBucket;                              // the next bucket to start in this micro-batch's backward pass
    private T _share;                                     // this part's share of the batch

    private DataParallel(Network<T> network, int microBatches, IProcessGroup? group, GradientReduction reduction, ISampleSource<T> samples)
    {
        _network = network;
        _group = group;
        _reduction = reduction;
        _ranks = group?.Size ?? 1;
        _rank = group?.Rank ?? 0;
        _microBatches = microBatches;
        Parts = _ranks * microBatches;
        _randomLayers = [.. ModuleState.Modules(network.Layers).Select(m => m.Value).Where(l => l.Generator is not null)];
        _x = new Matrix<T>(0, samples.FeatureCount);
        _y = new Matrix<T>(0, samples.TargetCount);
        int length = network.Gradients.Length;
        bool ordered = reduction == GradientReduction.Ordered;
        _accumulated = group is null || microBatches > 1 ? new T[length] : [];
        _gathered = group is not null && ordered ? GC.AllocateArray<T>(checked(length * _ranks), pinned: true) : Memory<T>.Empty;
        _mine = new double[microBatches + 1];
        _all = new double[_mine.Length * _ranks];
        _buckets = Buckets(network);
        _gradientsReady = GradientsReady;
    }

    /// <summary>The step the options ask for, or null when a batch is one part in one process (the plain step).</summary>
    public static DataParallel<T>? For(TrainOptions options, Network<T> network, ISampleSource<T> samples)
    {
        var group = options.Processes is { Size: > 1 } g ? g : null;
        if (group is null && options.Accumulate == 1) return null;
        return new DataParallel<T>(network, options.Accumulate, group, options.Reduce, samples);
    }

    /// <summary>Parts per batch: the number of ranks times the accumulation count.</summary>
    public int Parts { get; }

    /// <summary>Whether this process prints and writes the run's files (no group, or rank 0).</summary>
    public bool IsRoot => _group is null || _group.Rank == 0;

    /// <summary>Whether some rank had been asked to stop at the last <see cref="Step"/> or <see cref="AnyRank"/>: all stop together.</summary>
    public bool Cancelled { get; private set; }

    /// <summary>
    /// One optimiser step on the batch <paramref name="rows"/>; returns its loss (penalty included) before the update,
    /// the same number on every rank. <paramref name="cancel"/> is this rank's wish to stop after it (see <see cref="Cancelled"/>).
    /// </summary>
    public double Step(ISampleSource<T> samples, ReadOnlySpan<int> rows, bool cancel, int epoch = 0)
    {
        var gradients = _network.Gradients.Span;
        bool ordered = _reduction == GradientReduction.Ordered;
        int drawn = 0;   // rows of the batch the dropout generators have gone past
        for (int k = 0; k < _microBatches; k++)
        {
            int part = k * _ranks + _rank;
            var (start, count) = Part(rows.Length, part);
            Skip(start - drawn);
            drawn = start + count;
            // In a group, the buckets travel during the backward pass: every micro-batch's when ordered (each part is
            // summed in its place), the last one's, carrying this rank's sum of the others, when fast.
            bool reduce = _group is not null && (ordered || k == _microBatches - 1);
            _mine[k] = PartGradient(samples, rows, part, epoch, reduce);
            if (!reduce)
            {
                if (k == 0) gradients.CopyTo(_accumulated);
                else TensorPrimitives.Add(_accumulated, gradients, _accumulated);
                continue;
            }
            for (int i = 0; i < _inFlight.Count; i++) _inFlight[i].Wait();
            _inFlight.Clear();
            if (ordered) SumInRankOrder(_microBatches == 1 ? gradients : _accumulated, first: k == 0);
        }
        Skip(rows.Length - drawn);
        if (_group is null || (ordered && _microBatches > 1)) _accumulated.CopyTo(gradients);

        double loss = 0;
        if (_group is null)
        {
            for (int k = 0; k < _microBatches; k++) loss += _mine[k];
            Cancelled = cancel;
        }
        else
        {
            _mine[^1] = cancel ? 1 : 0;
            _group.AllGather<double>(_mine, _all);
            // Part p is micro-batch p / ranks of rank p % ranks: the losses summed in part order, as one process would.
            int stride = _mine.Length;
            for (int p = 0; p < Parts; p++) loss += _all[(p % _ranks) * stride + p / _ranks];
            bool stop = false;
            for (int r = 0; r < _ranks; r++) stop |= _all[r * stride + stride - 1] != 0;
            Cancelled = stop;
        }
        _network.StepFromGradients();
        return loss;
    }

    /// <summary>Whether <paramref name="flag"/> is true on any rank (this rank's alone without a group); sets <see cref="Cancelled"/>.</summary>
    public bool AnyRank(bool flag)
    {
        if (_group is null) return Cancelled = flag;
        Span<int> mine = [flag ? 1 : 0];
        Span<int> all = stackalloc int[_group.Size];
        _group.AllGather<int>(mine, all);
        return Cancelled = all.Contains(1);
    }

    /// <summary>
    /// Makes every rank's run rank 0's before training: checks that they agree on the data and the network, then
    /// broadcasts the weights and buffers, the optimiser's state and rate, every generator, the split and the order.
    /// </summary>
    /// <exception cref="ProcessGroupException">A rank's data, network or position in the run differs from rank 0's.</exception>
    public void Synchronize(Span<int> trainRows, Span<int> validationRows, int testRows, TrainingState<T> state, Rng shuffle)
    {
        if (_group is null) return;
        _network.FinishDeferredSteps();
        var stateful = LearningRates.StatefulOf(_network.Optimizer);
        stateful?.Initialize(_network.Parameters);
        var tensors = NetworkSnapshot<T>.Tensors(_network);
        var generators = ModuleState.Generators(_network.Layers);
        (string What, long Value)[] facts =
        [
            ("training rows", trainRows.Length), ("validation rows", validationRows.Length), ("test rows", testRows),
            ("gradient values", _network.Gradients.Length), ("state tensors", tensors.Count), ("state values", tensors.Sum(t => (long)t.Span.Length)),
            ("optimiser state tensors", stateful?.State.Count ?? 0), ("dropout generators", generators.Count),
            ("bytes per value", System.Runtime.CompilerServices.Unsafe.SizeOf<T>()), ("next epoch", state.NextEpoch), ("next batch", state.NextBatch),
            ("history rows", state.History.Count), ("batch size", state.BatchSize),
        ];
        var mine = facts.Select(f => f.Value).ToArray();
        var all = new long[mine.Length * _group.Size];
        _group.AllGather<long>(mine, all);
        for (int r = 1; r < _group.Size; r++)
            for (int k = 0; k < mine.Length; k++)
                if (all[r * mine.Length + k] != all[k])
                    throw new ProcessGroupException($"rank {r} does not run what rank 0 runs: its {facts[k].What} are {all[r * mine.Length + k]}, rank 0's {all[k]} " +
                                                  "(every rank must load the same data, network and checkpoint with the same settings).");

        foreach (var tensor in tensors) _group.Broadcast(tensor.Span);
        if (stateful is not null)
        {
            foreach (var tensor in stateful.State) _group.Broadcast(tensor.Span);
            Span<long> steps = [stateful.StepCount];
            _group.Broadcast(steps);
            stateful.StepCount = steps[0];
        }
        if (LearningRates.GetOrNaN(_network.Optimizer) is var rate && !double.IsNaN(rate))
        {
            Span<double> rates = [rate];
            _group.Broadcast(rates);
            LearningRates.Set(_network.Optimizer, rates[0]);
        }
        foreach (var generator in generators.Prepend(shuffle))
        {
            var words = generator.GetState();
            _group.Broadcast<ulong>(words);
            generator.SetState(words);
        }
        _group.Broadcast(trainRows);
        _group.Broadcast(validationRows);
        _group.Broadcast<int>(state.Order);
        _network.HostStateWritten();   // a network on a device takes rank 0's state there
    }

    /// <summary>
    /// Mean loss (penalty included) and accuracy over <paramref name="rows"/>, shared out over the ranks by whole
    /// evaluation chunks and summed in chunk order: the numbers <see cref="Network{T}.Evaluate(ISampleSource{T}, ReadOnlySpan{int})"/>
    /// gives in one process, bit for bit. Batch-norm running estimates are rank 0's (see <see cref="ShareBuffers"/>).
    /// </summary>
    public (double Loss, double Accuracy) Evaluate(ISampleSource<T> samples, ReadOnlySpan<int> rows)
    {
        if (_group is null) return _network.Evaluate(samples, rows);
        if (rows.Length == 0) return (double.NaN, double.NaN);
        int size = Network<T>.EvaluationChunkRows;
        int chunks = (rows.Length + size - 1) / size;
        int perRank = (chunks + _group.Size - 1) / _group.Size;
        var mine = new double[2 * perRank];
        var x = new Matrix<T>(0, samples.FeatureCount);
        var y = new Matrix<T>(0, samples.TargetCount);
        for (int j = 0; j < perRank; j++)
        {
            int chunk = _group.Rank + j * _group.Size;
            if (chunk >= chunks) break;
            var (lossSum, correct) = _network.EvaluateChunk(samples, rows.Slice(chunk * size, Math.Min(size, rows.Length - chunk * size)), x, y);
            mine[2 * j] = lossSum;
            mine[2 * j + 1] = correct;
        }
        var all = new double[mine.Length * _group.Size];
        _group.AllGather<double>(mine, all);
        double totalLoss = 0;
        long totalCorrect = 0;
        for (int chunk = 0; chunk < chunks; chunk++)
        {
            int at = 2 * ((chunk % _group.Size) * perRank + chunk / _group.Size);
            totalLoss += all[at];
            totalCorrect += (long)all[at + 1];
        }
        return _network.EvaluationResult(totalLoss, totalCorrect, rows.Length);
    }

    /// <summary>
    /// Gives every rank rank 0's buffers (batch-norm running estimates, which each rank updates from its own slice, as
    /// PyTorch's DistributedDataParallel broadcasts them), so that all ranks hold one model before it is evaluated or saved.
    /// </summary>
    public void ShareBuffers()
    {
        if (_group is null) return;
        var buffers = ModuleState.Buffers(_network.Layers);
        if (buffers.Count == 0) return;
        _network.FinishDeferredSteps();   // a device's buffers to the host first, and rank 0's back after
        foreach (var buffer in buffers) _group.Broadcast(buffer.Span);
        _network.HostStateWritten();
    }

    /// <summary>Rows [start, start + count) of a batch of <paramref name="rows"/> rows form part <paramref name="part"/>.</summary>
    public (int Start, int Count) Part(int rows, int part)
    {
        int start = (int)((long)rows * part / Parts);
        int end = (int)((long)rows * (part + 1) / Parts);
        return (start, end - start);
    }

    // The gradient of one part, weighted by its share of the batch, in the network's gradient buffer; returns its
    // loss weighted the same way. With reduce, each bucket is weighted and started as soon as it is final.
    private double PartGradient(ISampleSource<T> samples, ReadOnlySpan<int> rows, int part, int epoch, bool reduce)
    {
        var (start, count) = Part(rows.Length, part);
        // Augmented sources draw per (seed, epoch, row): every rank and micro-batch sees what one process would.
        if (samples is ITrainingSamples<T> augmented) augmented.GatherTraining(rows.Slice(start, count), epoch, _x, _y);
        else samples.Gather(rows.Slice(start, count), _x, _y);
        double share = (double)count / rows.Length;
        _share = T.CreateChecked(share);
        _nextBucket = 0;
        double loss = _network.ComputeGradientsLayerByLayer(_x, _y, out _, reduce ? _gradientsReady : null, needInputGradient: false);
        if (reduce) GradientsReady(0, 0);   // all final: the buckets not started yet (every one, for a network on a device)
        else
        {
            var gradients = _network.Gradients.Span;
            TensorPrimitives.Multiply(gradients, _share, gradients);
        }
        return loss * share;
    }

    // Gradients from start on are final (ranges come from the last layer back): every bucket that lies there is started.
    // Every rank forms the same buckets in the same order, wherever its network computes, as MPI requires of collectives.
    private void GradientsReady(int start, int length)
    {
        while (_nextBucket < _buckets.Length && _buckets[_nextBucket].Start >= start) StartBucket(_buckets[_nextBucket++]);
        for (int i = 0; i < _inFlight.Count; i++) _inFlight[i].Poll();   // progress for those in flight
    }

    private void StartBucket((int Start, int End) range)
    {
        int length = range.End - range.Start;
        var bucket = _network.Gradients.Slice(range.Start, length);
        TensorPrimitives.Multiply(bucket.Span, _share, bucket.Span);
        if (_reduction == GradientReduction.Ordered)
        {
            _inFlight.Add(_group!.StartAllGather(bucket, _gathered.Slice(_ranks * range.Start, _ranks * length)));
            return;
        }
        if (_microBatches > 1) TensorPrimitives.Add(bucket.Span, _accumulated.AsSpan(range.Start, length), bucket.Span);
        _inFlight.Add(_group!.StartAllReduceSum(bucket));
    }

    // Adds every rank's weighted gradient, rank after rank, to the sum (or, for the first micro-batch, starts it).
    private void SumInRankOrder(Span<T> sum, bool first)
    {
        var gathered = _gathered.Span;
        foreach (var (start, end) in _buckets)
        {
            int length = end - start;
            var target = sum.Slice(start, length);
            var ranks = gathered.Slice(_ranks * start, _ranks * length);
            if (first) ranks[..length].CopyTo(target);
            for (int r = first ? 1 : 0; r < _ranks; r++) TensorPrimitives.Add(target, ranks.Slice(r * length, length), target);
        }
    }

    // The buckets of the network's gradient buffer: whole layers' ranges, from the last layer back, joined until a bucket
    // holds at least BucketBytes.
    private static (int Start, int End)[] Buckets(Network<T> network)
    {
        var buckets = new List<(int, int)>();
        int end = network.Gradients.Length, start = end;
        long bucketValues = BucketBytes / System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        for (int i = network.Layers.Count - 1; i >= 0; i--)
        {
            start -= ModuleState.Parameters<T>([network.Layers[i]]).Sum(p => p.Gradient.Length);
            if (end - start < bucketValues) continue;
            buckets.Add((start, end));
            end = start;
        }
        if (end > 0) buckets.Add((0, end));
        return [.. buckets];
    }

    // Advances the dropout generators over rows that other ranks train on.
    private void Skip(int rows)
    {
        if (rows == 0) return;
        for (int i = 0; i < _randomLayers.Count; i++) _randomLayers[i].SkipTrainingRows(rows);
    }
}
