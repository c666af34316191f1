using System.Numerics;
using System.Numerics.Tensors;
using ScratchNet.Data;
using ScratchNet.Layers;
using ScratchNet.Optimizers;

namespace ScratchNet.Training;

/// <summary>
/// A training step over parts of a batch: gradient accumulation in one process (<see cref="TrainOptions.Accumulate"/>)
/// or data parallelism over a process group (<see cref="TrainOptions.Processes"/>). Both split a batch of c rows into
/// the same parts (part i: rows c·i/N to c·(i + 1)/N), weight part i's mean gradient by its share of the batch,
/// and sum the parts in order, so that N ranks with the ordered reduction give bit for bit the weights of
/// accumulating N parts. The fast reduction sends the gradients in buckets of about 1 MB, from the last layer back,
/// each started as soon as its layers' backward is done, so that communication overlaps the rest of the backward pass. Gradients are kept (the optimiser steps <see cref="Network{T}.Gradients"/>): the fused SGD
/// path of <see cref="Network{T}.TrainStep"/> never stores them, so it is not used here.
/// </summary>
internal sealed class DataParallel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Network<T> _network;
    private readonly IProcessGroup? _group;
    private readonly GradientReduction _reduction;
    private readonly List<Layer<T>> _randomLayers;        // layers that draw in training (dropout), skipped over others' rows
    private readonly Matrix<T> _x, _y;                    // this part's rows
    private readonly T[] _accumulated;                    // accumulation: the ordered sum so far
    private readonly T[] _gathered;                       // ordered reduction: every rank's weighted gradient, rank after rank
    private readonly double[] _mine = new double[2];      // this rank's weighted loss and its cancellation flag
    private readonly double[] _all;

    // The fast reduction in buckets: gradient ranges, layer by layer from the last, reduced as soon as about this many
    // bytes are final, while the backward pass goes on (see Network.ComputeGradientsLayerByLayer).
    private const int BucketBytes = 1 << 20;
    private readonly List<IPendingReduction> _inFlight = new(64);
    private readonly Action<int, int>? _gradientsReady;
    private int _bucketStart, _bucketEnd;                 // the range of Gradients final but not yet sent, [start, end)
    private T _share;                                     // this part's share of the batch

    private DataParallel(Network<T> network, int parts, IProcessGroup? group, GradientReduction reduction, ISampleSource<T> samples)
    {
        _network = network;
        Parts = parts;
        _group = group;
        _reduction = reduction;
        _randomLayers = [.. ModuleState.Modules(network.Layers).Select(m => m.Value).Where(l => l.Generator is not null)];
        _x = new Matrix<T>(0, samples.FeatureCount);
        _y = new Matrix<T>(0, samples.TargetCount);
        int length = network.Gradients.Length;
        _accumulated = group is null ? new T[length] : [];
        _gathered = group is not null && reduction == GradientReduction.Ordered ? new T[(long)length * group.Size] : [];
        _all = new double[2 * (group?.Size ?? 1)];
        if (group is not null && reduction == GradientReduction.Fast) _gradientsReady = GradientsReady;
    }

    /// <summary>The step the options ask for, or null when a batch is one part in one process (the plain step).</summary>
    /// <exception cref="NotSupportedException">The network is on a device.</exception>
    public static DataParallel<T>? For(TrainOptions options, Network<T> network, ISampleSource<T> samples)
    {
        var group = options.Processes is { Size: > 1 } g ? g : null;
        int parts = group?.Size ?? options.Accumulate;
        if (parts == 1) return null;
        if (network.Device is not null)
            throw new NotSupportedException("Gradient accumulation and training across processes run on the host so far; train this network on the CPU.");
        return new DataParallel<T>(network, parts, group, options.Reduce, samples);
    }

    /// <summary>Parts per batch: the accumulation count, or the number of ranks.</summary>
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
        double loss = 0;
        if (_group is null)
        {
            for (int part = 0; part < Parts; part++)
            {
                double weighted = PartGradient(samples, rows, part, epoch);
                if (part == 0) gradients.CopyTo(_accumulated);
                else TensorPrimitives.Add(_accumulated, gradients, _accumulated);
                loss += weighted;
            }
            _accumulated.CopyTo(gradients);
            Cancelled = cancel;
        }
        else
        {
            int rank = _group.Rank;
            var (start, count) = Part(rows.Length, rank);
            Skip(start);
            _mine[0] = PartGradient(samples, rows, rank, epoch);
            Skip(rows.Length - start - count);
            _mine[1] = cancel ? 1 : 0;
            if (_reduction == GradientReduction.Fast)
            {
                // Reduced in buckets during the backward pass (PartGradient); what is left goes now.
                SendBucket();
                for (int i = 0; i < _inFlight.Count; i++) _inFlight[i].Wait();
                _inFlight.Clear();
            }
            else
            {
                _group.AllGather<T>(gradients, _gathered);
                _gathered.AsSpan(0, gradients.Length).CopyTo(gradients);
                for (int r = 1; r < _group.Size; r++) TensorPrimitives.Add(gradients, _gathered.AsSpan(r * gradients.Length, gradients.Length), gradients);
            }
            _group.AllGather<double>(_mine, _all);
            bool stop = false;
            for (int r = 0; r < _group.Size; r++)
            {
                loss += _all[2 * r];
                stop |= _all[2 * r + 1] != 0;
            }
            Cancelled = stop;
        }
        _network.Optimizer.Step(_network.Parameters);
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
        foreach (var buffer in ModuleState.Buffers(_network.Layers)) _group.Broadcast(buffer.Span);
    }

    /// <summary>Rows [start, start + count) of a batch of <paramref name="rows"/> rows form part <paramref name="part"/>.</summary>
    public (int Start, int Count) Part(int rows, int part)
    {
        int start = (int)((long)rows * part / Parts);
        int end = (int)((long)rows * (part + 1) / Parts);
        return (start, end - start);
    }

    // The gradient of one part, weighted by its share of the batch, in the network's gradient buffer; returns its
    // loss weighted the same way.
    private double PartGradient(ISampleSource<T> samples, ReadOnlySpan<int> rows, int part, int epoch)
    {
        var (start, count) = Part(rows.Length, part);
        // Augmented sources draw per (seed, epoch, row): every rank and micro-batch sees what one process would.
        if (samples is ITrainingSamples<T> augmented) augmented.GatherTraining(rows.Slice(start, count), epoch, _x, _y);
        else samples.Gather(rows.Slice(start, count), _x, _y);
        double share = (double)count / rows.Length;
        _share = T.CreateChecked(share);
        _bucketStart = _bucketEnd = -1;
        double loss = _network.ComputeGradientsLayerByLayer(_x, _y, out _, _gradientsReady);
        if (_gradientsReady is null)
        {
            var gradients = _network.Gradients.Span;
            TensorPrimitives.Multiply(gradients, _share, gradients);
        }
        return loss * share;
    }

    // A range of the gradients is final: it joins the bucket (ranges come from the last layer back, each just below the
    // one before), and a full bucket is weighted and its all-reduce started. Every rank forms the same buckets in the
    // same order, as MPI requires of collectives.
    private void GradientsReady(int start, int length)
    {
        if (_bucketStart >= 0 && start + length != _bucketStart) SendBucket();
        if (_bucketStart < 0) _bucketEnd = start + length;
        _bucketStart = start;
        if ((long)(_bucketEnd - _bucketStart) * System.Runtime.CompilerServices.Unsafe.SizeOf<T>() >= BucketBytes) SendBucket();
        for (int i = 0; i < _inFlight.Count; i++) _inFlight[i].Poll();   // progress for those in flight
    }

    private void SendBucket()
    {
        if (_bucketStart < 0 || _bucketEnd <= _bucketStart) return;
        var bucket = _network.Gradients.Slice(_bucketStart, _bucketEnd - _bucketStart);
        TensorPrimitives.Multiply(bucket.Span, _share, bucket.Span);
        _inFlight.Add(_group!.StartAllReduceSum(bucket));
        _bucketStart = _bucketEnd = -1;
    }

    // Advances the dropout generators over rows that other ranks train on.
    private void Skip(int rows)
    {
        if (rows == 0) return;
        for (int i = 0; i < _randomLayers.Count; i++) _randomLayers[i].SkipTrainingRows(rows);
    }
}
