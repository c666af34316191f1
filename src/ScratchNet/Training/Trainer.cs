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
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (options.Schedule is not null || options.Plateau is not null || options.CheckpointPath is not null) LearningRates.Get(Network.Optimizer);
        int minimumBatch = ModuleState.Modules(Network.Layers).Max(m => m.Value.MinimumTrainingBatch);
        var state = _resumed ?? new TrainingState<T> { History = [], Order = [.. _trainRows] };
        bool resumed = _resumed is not null;
        _resumed = null;
        if (resumed && state.BatchSize != options.BatchSize)
            throw new ArgumentException($"The checkpoint was trained with batch size {state.BatchSize}; resuming with {options.BatchSize} would not continue the same run.", nameof(options));
        state.BatchSize = options.BatchSize;

        var early = options.EarlyStopping;
        var best = early is { RestoreBestWeights: true } ? new NetworkSnapshot<T>(Network, withOptimizer: false) : null;
        if (best is not null && state.BestWeights is { } kept) best.Set(kept);
        if (options.Plateau is { } plateau && state.Plateau is { } plateauState) plateau.SetState(plateauState);
        var guard = new NetworkSnapshot<T>(Network, withOptimizer: true);
        var clock = Stopwatch.StartNew();

        if (!resumed) Record(-1);
        var reason = state.StopReason == StopReason.EarlyStopped ? StopReason.EarlyStopped : StopReason.Completed;
        bool checkpointCurrent = false;
        var xBatch = new Matrix<T>(0, Samples.FeatureCount);
        var yBatch = new Matrix<T>(0, Samples.TargetCount);
        int[] order = state.Order;
        int batchCount = BatchCount(order.Length, options.BatchSize, minimumBatch);

        for (int epoch = state.NextEpoch; epoch < options.Epochs && reason == StopReason.Completed; epoch++)
        {
            clock.Restart();
            if (state.NextBatch == 0)
            {
                if (cancellation.IsCancellationRequested)
                {
                    reason = StopReason.Cancelled;
                    break;
                }
                _rng.Shuffle<int>(order);
            }
            guard.Capture();
            double? rate = options.Schedule?.RateAt(epoch) ?? options.Plateau?.Rate;
            if (rate is { } r) LearningRates.Set(Network.Optimizer, r);
            double learningRate = LearningRates.GetOrNaN(Network.Optimizer);

            for (int batch = state.NextBatch; batch < batchCount; batch++)
            {
                int start = batch * options.BatchSize;
                int count = batch == batchCount - 1 ? order.Length - start : options.BatchSize;
                Samples.Gather(order.AsSpan(start, count), xBatch, yBatch);
                double loss = Network.TrainStep(xBatch, yBatch);
                if (!double.IsFinite(loss))
                {
                    guard.Restore();
                    throw new DivergenceException(
                        $"Training diverged in epoch {epoch}, batch {batch} of {batchCount}: the batch loss is {loss}. " +
                        $"The weights are back to those at the start of epoch {epoch}. Lower the learning rate or the initial weight scale, or clip the gradients.",
                        epoch, batch) { History = new History(state.History, _testSamples is not null) };
                }
                options.Progress?.Report(new BatchProgress(epoch, batch, batchCount, start + count, loss, learningRate));
                if (batch + 1 < batchCount && cancellation.IsCancellationRequested)
                {
                    state.NextBatch = batch + 1;
                    reason = StopReason.Cancelled;
                    break;
                }
            }
            if (reason == StopReason.Cancelled) break;
            state.NextBatch = 0;
            state.NextEpoch = epoch + 1;
            var stats = Record(epoch);
            if (!double.IsFinite(stats.TrainLoss))
            {
                guard.Restore();
                state.History.RemoveAt(state.History.Count - 1);
                throw new DivergenceException(
                    $"Training diverged in epoch {epoch}: the training loss after it is {stats.TrainLoss}. " +
                    $"The weights are back to those at the start of epoch {epoch}. Lower the learning rate or the initial weight scale.",
                    epoch) { History = new History(state.History, _testSamples is not null) };
            }
            if (options.Plateau is { } p) LearningRates.Set(Network.Optimizer, p.Observe(MetricOf(stats, options.PlateauMonitor)));
            if (early is not null && EarlyStop(early, state, stats, best)) reason = StopReason.EarlyStopped;
            checkpointCurrent = false;
            if (options.CheckpointPath is { } path && options.CheckpointEvery > 0 && (epoch + 1) % options.CheckpointEvery == 0)
            {
                WriteCheckpoint(path, state, reason, options, best);
                checkpointCurrent = true;
            }
        }

        state.StopReason = reason;
        if (options.CheckpointPath is { } finalPath && !checkpointCurrent) WriteCheckpoint(finalPath, state, reason, options, best);
        // After the checkpoint, which keeps the last weights so that a resumed run continues the same trajectory.
        if (reason != StopReason.Cancelled && best is { Taken: true }) best.Restore();
        return new History(state.History, _testSamples is not null, reason, early is null ? null : state.EarlyBestEpoch);

        EpochStats Record(int epoch)
        {
            var (trainLoss, trainAccuracy) = TrainStats();
            var (validationLoss, validationAccuracy) = ValidationStats();
            var (testLoss, testAccuracy) = TestStats();
            var stats = new EpochStats(epoch, trainLoss, trainAccuracy, validationLoss, validationAccuracy, clock.Elapsed.TotalSeconds, testLoss, testAccuracy);
            state.History.Add(stats);
            if (options.Verbose)
            {
                Output.WriteLine(stats.ToReportLine());
                Output.Flush();
            }
            EpochCompleted?.Invoke(stats);
            return stats;
        }
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
