using System.Diagnostics;
using System.Numerics;
using ScratchNet.Data;
using ScratchNet.Layers;
using ScratchNet.Optimizers;

namespace ScratchNet.Training;

/// <summary>
/// The report's <c>Client</c>: holds a network and a dataset split into training and validation
/// rows, trains on shuffled mini-batches with the network's optimiser, and reports loss and accuracy
/// after every epoch. <see cref="Train(TrainOptions, CancellationToken)"/> adds schedules, early stopping,
/// a per-batch NaN/Inf guard, progress reports, cancellation, a test set and checkpoints.
/// </summary>
public sealed class Trainer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Rng _rng;
    private readonly int[] _trainRows;
    private readonly int[] _validationRows;
    private ISampleSource<T>? _testSamples;
    private int[] _testRows = [];
    private TrainingState<T>? _resumed;   // set by Resume, taken by the next Train
    private DataParallel<T>? _parallel;   // accumulation or data parallelism, for the run under way (null: the plain step)

    /// <summary>Splits (<paramref name="x"/>, <paramref name="y"/>) into shuffled training and validation sets.</summary>
    /// <param name="network">The network to train.</param>
    /// <param name="x">Inputs, (samples, network inputs).</param>
    /// <param name="y">Targets, (samples, network outputs): one-hot labels or regression values.</param>
    /// <param name="validationFraction">Share of samples held out for validation; the report's 0.2.</param>
    /// <param name="stratify">Split each class (argmax of y) separately, keeping class proportions.</param>
    /// <param name="seed">Seeds the split and every epoch's shuffle.</param>
    /// <exception cref="ShapeMismatchException">x or y does not fit the network, or they differ in rows.</exception>
    public Trainer(Network<T> network, Matrix<T> x, Matrix<T> y, double validationFraction = 0.2, bool stratify = false, ulong seed = 0)
        : this(network, new Dataset<T>("data", x, y), validationFraction, stratify, seed)
    {
    }

    /// <summary>Splits <paramref name="samples"/> into shuffled training and validation rows; batches are drawn from the source as training goes.</summary>
    /// <exception cref="ShapeMismatchException">The samples' widths do not fit the network.</exception>
    public Trainer(Network<T> network, ISampleSource<T> samples, double validationFraction = 0.2, bool stratify = false, ulong seed = 0)
    {
        network.Build();
        network.CheckSource(samples);
        Network = network;
        Samples = samples;
        _rng = new Rng(seed);
        (_trainRows, _validationRows) = DataSplit.Split(samples, validationFraction, stratify, _rng);
    }

    /// <summary>The network being trained.</summary>
    public Network<T> Network { get; }

    /// <summary>All samples, training and validation.</summary>
    public ISampleSource<T> Samples { get; }

    /// <summary>The rows of <see cref="Samples"/> trained on.</summary>
    public IReadOnlyList<int> TrainRows => _trainRows;

    /// <summary>The rows of <see cref="Samples"/> held out for validation.</summary>
    public IReadOnlyList<int> ValidationRows => _validationRows;

    /// <summary>
    /// A held-out test set (e.g. a dataset's official test split), evaluated on all its rows after every
    /// epoch and recorded in the history (<see cref="EpochStats.TestLoss"/>, <c>test_loss,test_acc</c> in the CSV); null for none.
    /// </summary>
    /// <exception cref="ShapeMismatchException">The source's widths do not fit the network.</exception>
    public ISampleSource<T>? TestSamples
    {
        get => _testSamples;
        set
        {
            if (value is not null) Network.CheckSource(value);
            _testSamples = value;
            _testRows = value is null ? [] : Enumerable.Range(0, value.Count).ToArray();
        }
    }

    /// <summary>Where <see cref="Train(TrainOptions, CancellationToken)"/> writes its epoch lines when verbose; standard output by default.</summary>
    public TextWriter Output { get; set; } = Console.Out;

    /// <summary>Raised after each epoch (and once for epoch −1) with that epoch's statistics.</summary>
    public event Action<EpochStats>? EpochCompleted;

    /// <summary>
    /// Raised before each epoch's first step with the epoch (from 0), a resumed epoch included: the place to change
    /// what trains for a part of the run, e.g. <c>trainer.EpochStarting += epoch =&gt; whitening.Bias!.Frozen = epoch &gt;= 3;</c>
    /// (airbench's whitening bias). Every rank of a data-parallel run raises it alike.
    /// </summary>
    public event Action<int>? EpochStarting;

    /// <summary>Loss (penalty included) and accuracy on the training set.</summary>
    public (double Loss, double Accuracy) TrainStats() => Network.Evaluate(Samples, _trainRows);

    /// <summary>Loss (penalty included) and accuracy on the validation set.</summary>
    public (double Loss, double Accuracy) ValidationStats() => Network.Evaluate(Samples, _validationRows);

    /// <summary>Loss (penalty included) and accuracy on <see cref="TestSamples"/>; NaN without one.</summary>
    public (double Loss, double Accuracy) TestStats() => _testSamples is null ? (double.NaN, double.NaN) : Network.Evaluate(_testSamples, _testRows);

    /// <summary>The network's outputs for <paramref name="x"/>.</summary>
    public Matrix<T> Predict(Matrix<T> x) => Network.Predict(x);

    /// <summary>
    /// Trains for <paramref name="epochs"/> passes over the shuffled training set in batches of
    /// <paramref name="batchSize"/> (the last batch of an epoch may be smaller). When
    /// <paramref name="verbose"/>, writes the report's <c>E: -1</c> line and one line per epoch to <see cref="Output"/>.
    /// </summary>
    /// <returns>The statistics before training (epoch −1) and after each epoch.</returns>
    /// <exception cref="DivergenceException">A batch's loss became NaN or infinite; the message names the epoch and batch (see <see cref="Train(TrainOptions, CancellationToken)"/>).</exception>
    public History Train(int epochs, int batchSize = 1, bool verbose = false) =>
        Train(new TrainOptions { Epochs = epochs, BatchSize = batchSize, Verbose = verbose });

    /// <summary>
    /// Trains as <paramref name="options"/> say, from the start (an <c>E: -1</c> row first) or, after
    /// <see cref="Resume"/>, from where the checkpoint left off. Each epoch: the schedule's rate is set, the
    /// training rows are shuffled, batches step the network's optimiser, then loss and accuracy are
    /// evaluated on the training, validation (and test) sets.
    /// </summary>
    /// <param name="options">Epochs, batch size and the optional pieces.</param>
    /// <param name="cancellation">Checked after every batch (and before each epoch): when it fires, training stops
    /// after the batch that ran, a checkpoint is written if configured (resuming continues at the next batch), and
    /// the history so far is returned with <see cref="StopReason.Cancelled"/>.</param>
    /// <returns>Every epoch's statistics, with why training ended and, with early stopping, the best epoch.</returns>
    /// <exception cref="DivergenceException">
    /// A batch's loss (or an epoch's training loss) became NaN or infinite: the weights, batch-norm estimates and
    /// optimiser state are restored to what they were at the start of that epoch; the message names the epoch and batch.
    /// </exception>
    /// <exception cref="ArgumentException">Inconsistent options (see <see cref="TrainOptions"/>).</exception>
    /// <exception cref="NotSupportedException">A schedule with an optimiser whose learning rate is unknown.</exception>
    public History Train(TrainOptions options, CancellationToken cancellation = default)
    {
        var run = Begin(options);
        Network.DeferSteps = true;   // see Network.DeferSteps: every evaluation, and the end of the run, finishes deferred updates
        try
        {
            if (!run.Resumed) Record(run, -1);
            for (int epoch = run.State.NextEpoch; epoch < options.Epochs && run.Reason == StopReason.Completed; epoch++)
            {
                if (!StartEpoch(run, epoch, cancellation)) break;
                if (!TrainBatches(run, epoch, cancellation)) break;
                run.Average?.EndEpoch();
                var stats = Record(run, epoch);
                GuardEpoch(run, epoch, stats);
                AfterEpoch(run, stats);
                CheckpointIfDue(run, epoch);
            }
            return Finish(run);
        }
        finally
        {
            Network.DeferSteps = false;
            Network.FinishDeferredSteps();
        }
    }

    // Everything a run of Train carries from step to step.
    private sealed class Run(TrainOptions options, TrainingState<T> state, bool resumed, NetworkSnapshot<T> guard, NetworkSnapshot<T>? best, int minimumBatch)
    {
        public TrainOptions Options { get; } = options;
        public TrainingState<T> State { get; } = state;
        public bool Resumed { get; } = resumed;
        public NetworkSnapshot<T> Guard { get; } = guard;          // the weights at the start of the epoch, for divergence
        public NetworkSnapshot<T>? Best { get; } = best;           // early stopping's best weights, when kept
        public int MinimumBatch { get; } = minimumBatch;
        public StopReason Reason { get; set; }
        public bool CheckpointCurrent { get; set; }
        public Stopwatch Clock { get; } = Stopwatch.StartNew();
        public Matrix<T> X { get; init; } = null!;
        public Matrix<T> Y { get; init; } = null!;
        public double LearningRate { get; set; }
        public WeightAverager<T>? Average { get; init; }
        public bool IsRoot { get; init; } = true;                 // this process prints and writes checkpoints
        public int[] TrainEvaluationRows { get; init; } = [];     // the training rows each epoch's train loss and accuracy are measured on
    }

    // Checks the options and sets up the run: fresh, or where Resume left off.
    private Run Begin(TrainOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (options.Schedule is not null || options.Plateau is not null || options.StepSchedule is not null || options.CheckpointPath is not null) LearningRates.Get(Network.Optimizer);
        var state = _resumed ?? new TrainingState<T> { History = [], Order = [.. _trainRows] };
        bool resumed = _resumed is not null;
        _resumed = null;
        if (resumed && state.BatchSize != options.BatchSize)
            throw new ArgumentException($"The checkpoint was trained with batch size {state.BatchSize}; resuming with {options.BatchSize} would not continue the same run.", nameof(options));
        state.BatchSize = options.BatchSize;
        var best = options.EarlyStopping is { RestoreBestWeights: true } ? new NetworkSnapshot<T>(Network, withOptimizer: false) : null;
        if (best is not null && state.BestWeights is { } kept) best.Set(kept);
        if (options.Plateau is { } plateau && state.Plateau is { } plateauState) plateau.SetState(plateauState);
        int minimumBatch = ModuleState.Modules(Network.Layers).Max(m => m.Value.MinimumTrainingBatch);
        _parallel = DataParallel<T>.For(options, Network, Samples);
        if (_parallel is not null)
        {
            // Every part of a batch needs the rows a layer trains on: the last batch of an epoch joins the one before sooner.
            minimumBatch *= _parallel.Parts;
            if (state.Order.Length < minimumBatch)
                throw new ArgumentException($"The {state.Order.Length} training rows cannot be split into {_parallel.Parts} parts of at least {minimumBatch / _parallel.Parts}.", nameof(options));
            _parallel.Synchronize(_trainRows, _validationRows, _testRows.Length, state, _rng);
        }
        return new Run(options, state, resumed, new NetworkSnapshot<T>(Network, withOptimizer: true), best, minimumBatch)
        {
            IsRoot = _parallel?.IsRoot ?? true,
            TrainEvaluationRows = options.TrainEvaluationRows is > 0 and var n && n < _trainRows.Length ? _trainRows[..n] : _trainRows,
            Reason = state.StopReason == StopReason.EarlyStopped ? StopReason.EarlyStopped : StopReason.Completed,
            X = new Matrix<T>(0, Samples.FeatureCount),
            Y = new Matrix<T>(0, Samples.TargetCount),
            Average = options.WeightAveraging is { } averaging ? new WeightAverager<T>(Network, averaging) : null,
        };
    }

    // Before an epoch's first batch: the cancellation check and the shuffle (unless resuming mid-epoch), the
    // divergence guard's copy, and the schedule's rate. False when the run stops here.
    private bool StartEpoch(Run run, int epoch, CancellationToken cancellation)
    {
        run.Clock.Restart();
        if (run.State.NextBatch == 0)
        {
            if (_parallel?.AnyRank(cancellation.IsCancellationRequested) ?? cancellation.IsCancellationRequested)
            {
                run.Reason = StopReason.Cancelled;
                return false;
            }
            _rng.Shuffle<int>(run.State.Order);
        }
        EpochStarting?.Invoke(epoch);
        run.Average?.BeginEpoch(epoch);
        run.Guard.Capture();
        double? rate = run.Options.Schedule?.RateAt(epoch) ?? run.Options.Plateau?.Rate;
        if (rate is { } r) LearningRates.Set(Network.Optimizer, r);
        run.LearningRate = LearningRates.GetOrNaN(Network.Optimizer);
        return true;
    }

    // The epoch's batches from where it stands, each one optimiser step, a batch loss that is not finite
    // putting the epoch's starting weights back. On a device the steps are queued and their losses taken a few
    // dozen at a time (the host would otherwise wait for the GPU at every step); each is checked and reported
    // in order all the same. False when cancelled before the last batch.
    private bool TrainBatches(Run run, int epoch, CancellationToken cancellation)
    {
        if (_parallel is not null) return TrainBatchesInParts(run, epoch, cancellation);
        var state = run.State;
        int batchSize = run.Options.BatchSize;
        int batchCount = BatchCount(state.Order.Length, batchSize, run.MinimumBatch);
        int firstQueued = state.NextBatch;
        for (int batch = state.NextBatch; batch < batchCount; batch++)
        {
            int start = batch * batchSize;
            int count = batch == batchCount - 1 ? state.Order.Length - start : batchSize;
            // Augmented sources draw training batches per (seed, epoch, row): a resumed run sees the same ones.
            if (Samples is ITrainingSamples<T> augmented) augmented.GatherTraining(state.Order.AsSpan(start, count), epoch, run.X, run.Y);
            else Samples.Gather(state.Order.AsSpan(start, count), run.X, run.Y);
            long step = (long)epoch * batchCount + batch, totalSteps = (long)run.Options.Epochs * batchCount;
            if (run.Options.StepSchedule is { } perStep)
            {
                LearningRates.Set(Network.Optimizer, perStep.RateAt(step, totalSteps));
                run.LearningRate = LearningRates.GetOrNaN(Network.Optimizer);
            }
            Network.QueueTrainStep(run.X, run.Y);
            bool last = batch + 1 == batchCount;
            // Weight averaging reads the weights after every step: no step may still be queued then.
            if (Network.QueuedSteps >= Network.QueueCapacity || last || cancellation.IsCancellationRequested || run.Average is not null)
            {
                TakeLosses(run, epoch, firstQueued, batchCount);
                firstQueued = batch + 1;
            }
            run.Average?.AfterStep(step, totalSteps);
            // After the losses were reported: a progress handler may be what cancels.
            if (!last && cancellation.IsCancellationRequested)
            {
                state.NextBatch = batch + 1;
                run.Reason = StopReason.Cancelled;
                return false;
            }
        }
        state.NextBatch = 0;
        state.NextEpoch = epoch + 1;
        return true;
    }

    // As TrainBatches, each batch split into parts (accumulation, or this rank's slice: DataParallel); the ranks agree
    // on every loss and on stopping, so that all of them take the same steps.
    private bool TrainBatchesInParts(Run run, int epoch, CancellationToken cancellation)
    {
        var state = run.State;
        int batchSize = run.Options.BatchSize;
        int batchCount = BatchCount(state.Order.Length, batchSize, run.MinimumBatch);
        for (int batch = state.NextBatch; batch < batchCount; batch++)
        {
            int start = batch * batchSize;
            int count = batch == batchCount - 1 ? state.Order.Length - start : batchSize;
            long step = (long)epoch * batchCount + batch, totalSteps = (long)run.Options.Epochs * batchCount;
            if (run.Options.StepSchedule is { } perStep)
            {
                LearningRates.Set(Network.Optimizer, perStep.RateAt(step, totalSteps));
                run.LearningRate = LearningRates.GetOrNaN(Network.Optimizer);
            }
            double loss = _parallel!.Step(Samples, state.Order.AsSpan(start, count), cancellation.IsCancellationRequested, epoch);
            run.Average?.AfterStep(step, totalSteps);
            CheckAndReport(run, epoch, batch, batchCount, loss);
            if (batch + 1 < batchCount && _parallel.Cancelled)
            {
                state.NextBatch = batch + 1;
                run.Reason = StopReason.Cancelled;
                return false;
            }
        }
        state.NextBatch = 0;
        state.NextEpoch = epoch + 1;
        return true;
    }

    // The losses of the queued batches first..: each checked (divergence names its batch) and reported.
    private void TakeLosses(Run run, int epoch, int first, int batchCount)
    {
        Span<double> losses = stackalloc double[Network.QueuedSteps];
        Network.TakeQueuedLosses(losses);
        for (int i = 0; i < losses.Length; i++) CheckAndReport(run, epoch, first + i, batchCount, losses[i]);
    }

    // A batch's loss: one that is not finite puts the epoch's starting weights back and stops the run.
    private void CheckAndReport(Run run, int epoch, int batch, int batchCount, double loss)
    {
        if (!double.IsFinite(loss))
        {
            run.Guard.Restore();
            throw new DivergenceException(
                $"Training diverged in epoch {epoch}, batch {batch} of {batchCount}: the batch loss is {loss}. " +
                $"The weights are back to those at the start of epoch {epoch}. Lower the learning rate or the initial weight scale, or clip the gradients.",
                epoch, batch) { History = new History(run.State.History, _testSamples is not null) };
        }
        int done = batch == batchCount - 1 ? run.State.Order.Length : (batch + 1) * run.Options.BatchSize;
        run.Options.Progress?.Report(new BatchProgress(epoch, batch, batchCount, done, loss, run.LearningRate));
    }

    // Loss and accuracy on the training, validation and test sets after an epoch (or before the first, −1).
    private EpochStats Record(Run run, int epoch)
    {
        _parallel?.ShareBuffers();
        // With weight averaging, the averaged weights are the ones evaluated (and kept at the end).
        var ((trainLoss, trainAccuracy), (validationLoss, validationAccuracy), (testLoss, testAccuracy)) = run.Average is { } average
            ? average.WithAverage(Evaluate)
            : Evaluate();
        var stats = new EpochStats(epoch, trainLoss, trainAccuracy, validationLoss, validationAccuracy, run.Clock.Elapsed.TotalSeconds, testLoss, testAccuracy);
        run.State.History.Add(stats);
        if (run.Options.Verbose && run.IsRoot)
        {
            Output.WriteLine(stats.ToReportLine());
            Output.Flush();
        }
        EpochCompleted?.Invoke(stats);
        return stats;

        // Across ranks when training in parallel; the epoch lines' three pairs.
        ((double, double), (double, double), (double, double)) Evaluate() => (
            _parallel?.Evaluate(Samples, run.TrainEvaluationRows) ?? Network.Evaluate(Samples, run.TrainEvaluationRows),
            _parallel?.Evaluate(Samples, _validationRows) ?? ValidationStats(),
            _parallel is not null && _testSamples is not null ? _parallel.Evaluate(_testSamples, _testRows) : TestStats());
    }

    // An epoch whose training loss is not finite is undone: weights back, its row dropped.
    private void GuardEpoch(Run run, int epoch, EpochStats stats)
    {
        if (double.IsFinite(stats.TrainLoss)) return;
        run.Guard.Restore();
        run.State.History.RemoveAt(run.State.History.Count - 1);
        throw new DivergenceException(
            $"Training diverged in epoch {epoch}: the training loss after it is {stats.TrainLoss}. " +
            $"The weights are back to those at the start of epoch {epoch}. Lower the learning rate or the initial weight scale.",
            epoch) { History = new History(run.State.History, _testSamples is not null) };
    }

    // What an epoch's statistics decide: the plateau schedule's next rate, and early stopping.
    private void AfterEpoch(Run run, EpochStats stats)
    {
        if (run.Options.Plateau is { } plateau) LearningRates.Set(Network.Optimizer, plateau.Observe(MetricOf(stats, run.Options.PlateauMonitor)));
        if (run.Options.EarlyStopping is { } early && EarlyStop(early, run.State, stats, run.Best)) run.Reason = StopReason.EarlyStopped;
    }

    private void CheckpointIfDue(Run run, int epoch)
    {
        var options = run.Options;
        run.CheckpointCurrent = options.CheckpointPath is not null && options.CheckpointEvery > 0 && (epoch + 1) % options.CheckpointEvery == 0;
        if (run.CheckpointCurrent && run.IsRoot) WriteCheckpoint(options.CheckpointPath!, run.State, run.Reason, options, run.Best);
    }

    // The last checkpoint (keeping the last weights, so that a resumed run continues the same trajectory),
    // then early stopping's best weights, and the history.
    private History Finish(Run run)
    {
        var state = run.State;
        state.StopReason = run.Reason;
        if (run.Options.CheckpointPath is { } path && !run.CheckpointCurrent && run.IsRoot) WriteCheckpoint(path, state, run.Reason, run.Options, run.Best);
        if (run.Reason != StopReason.Cancelled && run.Best is { Taken: true }) run.Best.Restore();
        else run.Average?.Install();
        return new History(state.History, _testSamples is not null, run.Reason, run.Options.EarlyStopping is null ? null : state.EarlyBestEpoch);
    }

    /// <summary>
    /// Loads a checkpoint written by <see cref="Train(TrainOptions, CancellationToken)"/> into this trainer,
    /// which must be set up as the one that wrote it (same network architecture and dtype, same optimiser type,
    /// same samples, split and seed): the weights, batch-norm estimates, optimiser state, shuffle and dropout
    /// generators, history, position in the epoch and early-stopping and plateau state. The next
    /// <see cref="Train(TrainOptions, CancellationToken)"/> continues the run (with the same batch size) up to its
    /// <see cref="TrainOptions.Epochs"/> in total; with the same thread count its history and weights are bit for
    /// bit those of an uninterrupted run.
    /// </summary>
    /// <returns>The configuration string stored with the checkpoint (<see cref="TrainOptions.Config"/>), or null.</returns>
    /// <exception cref="CheckpointFormatException">The file is malformed or truncated, or does not fit this trainer.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public string? Resume(string path)
    {
        var checkpoint = Checkpoint.Read(path, this);
        _resumed = checkpoint.State;
        return checkpoint.Config;
    }

    /// <summary>The shuffle generator, for checkpoints.</summary>
    internal Rng ShuffleGenerator => _rng;

    private void WriteCheckpoint(string path, TrainingState<T> state, StopReason reason, TrainOptions options, NetworkSnapshot<T>? best)
    {
        state.StopReason = reason;
        state.Plateau = options.Plateau?.GetState();
        state.BestWeights = best is { Taken: true } ? best.Copies : null;
        Checkpoint.Write(path, this, state, options.Config);
    }

    // Batches per epoch; a last batch smaller than a layer can train on (one row, for batch norm) joins the batch before it.
    private static int BatchCount(int rows, int batchSize, int minimumBatch)
    {
        int count = (rows + batchSize - 1) / batchSize;
        int last = rows - (count - 1) * batchSize;
        if (count > 1 && last < minimumBatch) count--;
        return count;
    }

    private static double MetricOf(EpochStats stats, Metric metric) =>
        metric == Metric.ValidationAccuracy ? stats.ValidationAccuracy : stats.ValidationLoss;

    // Updates the early-stopping state after an epoch; true when training should stop.
    private static bool EarlyStop(EarlyStopping early, TrainingState<T> state, EpochStats stats, NetworkSnapshot<T>? best)
    {
        double value = MetricOf(stats, early.Monitor);
        bool maximize = early.Monitor == Metric.ValidationAccuracy;
        bool improved = double.IsFinite(value) && (double.IsNaN(state.EarlyBest)
            || (maximize ? value > state.EarlyBest + early.MinDelta : value < state.EarlyBest - early.MinDelta));
        if (improved)
        {
            state.EarlyBest = value;
            state.EarlyBestEpoch = stats.Epoch;
            state.EarlyBadEpochs = 0;
            best?.Capture();
            return false;
        }
        return ++state.EarlyBadEpochs >= early.Patience;
    }
}
