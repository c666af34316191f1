using ScratchNet.Optimizers.Schedules;

namespace ScratchNet.Training;

/// <summary>A validation metric the trainer can watch (early stopping, reduce-on-plateau).</summary>
public enum Metric
{
    /// <summary>Validation loss, penalty included; lower is better.</summary>
    ValidationLoss,

    /// <summary>Validation accuracy; higher is better.</summary>
    ValidationAccuracy,
}

/// <summary>
/// Early stopping: after each epoch the <see cref="Monitor"/>ed metric counts as improved when it beats the
/// best so far by more than <see cref="MinDelta"/>; after <see cref="Patience"/> epochs in a row without
/// improvement training stops, and with <see cref="RestoreBestWeights"/> the network gets back the weights
/// (and batch-norm running estimates) of the best epoch.
/// </summary>
/// <param name="Patience">Epochs without improvement tolerated, ≥ 1.</param>
/// <param name="Monitor">The metric watched.</param>
/// <param name="MinDelta">The absolute improvement that counts, ≥ 0.</param>
/// <param name="RestoreBestWeights">Whether to restore the best epoch's weights when training ends (stopped early or not).</param>
public sealed record EarlyStopping(int Patience, Metric Monitor = Metric.ValidationLoss, double MinDelta = 0, bool RestoreBestWeights = true)
{
    internal void Validate()
    {
        if (Patience < 1) throw new ArgumentOutOfRangeException(nameof(Patience), Patience, "Early-stopping patience must be at least 1 epoch.");
        if (!(MinDelta >= 0 && double.IsFinite(MinDelta))) throw new ArgumentOutOfRangeException(nameof(MinDelta), MinDelta, "The minimum delta must be finite and ≥ 0.");
        if (!Enum.IsDefined(Monitor)) throw new ArgumentOutOfRangeException(nameof(Monitor), Monitor, "Unknown metric.");
    }
}

/// <summary>Reported through <see cref="TrainOptions.Progress"/> after every training batch.</summary>
/// <param name="Epoch">The epoch, from 0.</param>
/// <param name="Batch">The batch just trained, from 0 within the epoch.</param>
/// <param name="BatchCount">Batches in the epoch.</param>
/// <param name="SamplesDone">Training samples stepped on so far in this epoch, this batch's included.</param>
/// <param name="Loss">The batch's loss (penalty included) before its update.</param>
/// <param name="LearningRate">The rate the batch's update used (NaN for an optimiser whose rate the trainer cannot read).</param>
public readonly record struct BatchProgress(int Epoch, int Batch, int BatchCount, int SamplesDone, double Loss, double LearningRate);

/// <summary>
/// What <see cref="Trainer{T}.Train(TrainOptions, CancellationToken)"/> does beyond the report's loop: a
/// schedule, early stopping, progress reports and checkpoints. Everything is optional except the epochs.
/// </summary>
public sealed record TrainOptions
{
    /// <summary>Total epochs. A resumed run counts the epochs its checkpoint had done: it trains the rest.</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>Samples per step, ≥ 1. With a <see cref="Layers.BatchNorm1d{T}"/> in the network, an epoch whose last batch would hold one row (no variance) adds it to the batch before.</summary>
    public int BatchSize { get; init; } = 1;

    /// <summary>Write the report's <c>E: -1</c> line and one line per epoch to <see cref="Trainer{T}.Output"/>.</summary>
    public bool Verbose { get; init; }

    /// <summary>
    /// The training rows whose loss and accuracy each epoch's statistics report (<see cref="EpochStats.TrainLoss"/>): 0 for
    /// all of them (the default), or the first N of the shuffled split, the same N every epoch. Measuring the whole
    /// training set costs a third of an epoch's work each time; a sample of a few thousand rows estimates it to about a
    /// percent for a fraction of that. Validation and test sets are always measured whole.
    /// </summary>
    public int TrainEvaluationRows { get; init; }

    /// <summary>Told after every batch (synchronously, on the training thread: keep it quick).</summary>
    public IProgress<BatchProgress>? Progress { get; init; }

    /// <summary>Sets the optimiser's learning rate to <c>RateAt(epoch)</c> before each epoch.</summary>
    public ILearningRateSchedule? Schedule { get; init; }

    /// <summary>
    /// Sets the optimiser's learning rate before every batch to <c>RateAt(step, totalSteps)</c>, step counted over the
    /// whole run (epoch · batches per epoch + batch). Excludes <see cref="Schedule"/> and <see cref="Plateau"/>.
    /// </summary>
    public IStepSchedule? StepSchedule { get; init; }

    /// <summary>Weight averaging (EMA or lookahead), or null for none. Not saved in checkpoints: excludes <see cref="CheckpointPath"/>.</summary>
    public WeightAveraging? WeightAveraging { get; init; }

    /// <summary>
    /// Reduce-on-plateau: fed <see cref="PlateauMonitor"/> after each epoch; its rate is set on the optimiser
    /// for the next. Excludes <see cref="Schedule"/>. Its state is saved in checkpoints.
    /// </summary>
    public ReduceOnPlateau? Plateau { get; init; }

    /// <summary>The metric <see cref="Plateau"/> watches; a plateau that maximises needs <see cref="Metric.ValidationAccuracy"/>, one that minimises <see cref="Metric.ValidationLoss"/>.</summary>
    public Metric PlateauMonitor { get; init; } = Metric.ValidationLoss;

    /// <summary>Early stopping, or null for none.</summary>
    public EarlyStopping? EarlyStopping { get; init; }

    /// <summary>
    /// Where to write checkpoints (see <see cref="Checkpoint"/>), atomically: every <see cref="CheckpointEvery"/>
    /// epochs, when training ends (all epochs, early stop, cancellation), never after divergence. Null: none.
    /// </summary>
    public string? CheckpointPath { get; init; }

    /// <summary>Epochs between checkpoints, ≥ 0 (0: only when training ends).</summary>
    public int CheckpointEvery { get; init; }

    /// <summary>A caller's description of the run (e.g. the CLI's config JSON), stored verbatim in checkpoints; <see cref="Checkpoint.ReadConfig"/> gives it back.</summary>
    public string? Config { get; init; }

    /// <summary>
    /// Gradient accumulation, ≥ 1: each batch of <see cref="BatchSize"/> rows (which it must divide) is split into this
    /// many micro-batches, their gradients are summed in order, weighted by their share of the batch, and the optimiser
    /// steps once; the same step as one batch of <see cref="BatchSize"/> (within rounding) in a fraction of the memory.
    /// With <see cref="Processes"/>, each rank's slice is split so: N ranks accumulating A give bit for bit (ordered) the
    /// weights of one process accumulating N·A, and the batch must divide into N·A parts.
    /// </summary>
    public int Accumulate { get; init; } = 1;

    /// <summary>
    /// The processes that train together, or null for this one alone. With <see cref="IProcessGroup.Size"/> &gt; 1,
    /// <see cref="BatchSize"/> is the global batch (it must divide by the size), each rank computes the gradient of its
    /// slice, the slices' gradients are summed by <see cref="Reduce"/>, and rank 0 alone prints and writes checkpoints.
    /// </summary>
    public IProcessGroup? Processes { get; init; }

    /// <summary>How the ranks' gradients are summed (default <see cref="GradientReduction.Ordered"/>).</summary>
    public GradientReduction Reduce { get; init; } = GradientReduction.Ordered;

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(Epochs, nameof(Epochs));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(BatchSize, nameof(BatchSize));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Accumulate, nameof(Accumulate));
        ArgumentOutOfRangeException.ThrowIfNegative(TrainEvaluationRows, nameof(TrainEvaluationRows));
        int ranks = Processes?.Size ?? 1;
        if (BatchSize % Accumulate != 0)
            throw new ArgumentException($"The batch size {BatchSize} does not divide into {Accumulate} accumulated micro-batches.", nameof(Accumulate));
        if (BatchSize % ranks != 0)
            throw new ArgumentException($"The global batch size {BatchSize} does not divide over {ranks} processes; give a multiple of {ranks}.", nameof(BatchSize));
        if (BatchSize % ((long)ranks * Accumulate) != 0)
            throw new ArgumentException($"The global batch size {BatchSize} does not divide into {ranks} processes × {Accumulate} micro-batches; give a multiple of {ranks * (long)Accumulate}.", nameof(Accumulate));
        if (!Enum.IsDefined(Reduce)) throw new ArgumentOutOfRangeException(nameof(Reduce), Reduce, "Unknown reduction.");
        ArgumentOutOfRangeException.ThrowIfNegative(CheckpointEvery, nameof(CheckpointEvery));
        EarlyStopping?.Validate();
        if ((Schedule is not null ? 1 : 0) + (Plateau is not null ? 1 : 0) + (StepSchedule is not null ? 1 : 0) > 1)
            throw new ArgumentException("Give one of Schedule, Plateau and StepSchedule, not several.", nameof(Plateau));
        WeightAveraging?.Validate();
        if (WeightAveraging is not null && CheckpointPath is not null)
            throw new ArgumentException("Weight averaging keeps its average outside the checkpoint format: train without CheckpointPath, or without WeightAveraging.", nameof(WeightAveraging));
        if (WeightAveraging is not null && EarlyStopping is { RestoreBestWeights: true })
            throw new ArgumentException("Early stopping's best weights would be the live ones, not the average it judged: use RestoreBestWeights = false with WeightAveraging.", nameof(WeightAveraging));
        if (Plateau is not null && Plateau.Maximize != (PlateauMonitor == Metric.ValidationAccuracy))
            throw new ArgumentException(
                $"The plateau schedule {(Plateau.Maximize ? "maximises" : "minimises")} but watches {PlateauMonitor}; set ReduceOnPlateau(maximize: {(!Plateau.Maximize).ToString().ToLowerInvariant()}) or the other metric.",
                nameof(PlateauMonitor));
    }
}
