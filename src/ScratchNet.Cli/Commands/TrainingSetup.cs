using System.CommandLine;
using System.Globalization;
using System.Numerics;
using ScratchNet.Data.Catalog;
using ScratchNet.Layers;
using ScratchNet.Optimizers;
using ScratchNet.Optimizers.Schedules;
using ScratchNet.Training;
using LibraryTrainOptions = ScratchNet.Training.TrainOptions;

namespace ScratchNet.Cli.Commands;

/// <summary>
/// The <c>train</c> options beyond the report's loop: activation, dropout, initialiser, optimiser, schedule,
/// clipping, early stopping, test set and checkpoints. Each is a <see cref="RunConfig"/> field of the same name;
/// <see cref="Resolve"/> fills defaults and refuses settings that would be ignored.
/// </summary>
internal sealed class TrainingSetup
{
    public static readonly string[] Activations = ["relu", "sigmoid", "tanh", "leaky-relu", "gelu"];
    public static readonly string[] Optimizers = ["sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop"];
    public static readonly string[] Schedules = ["none", "step", "exponential", "cosine", "plateau", "triangular", "one-cycle"];
    public static readonly string[] Monitors = ["val_loss", "val_acc"];
    public static readonly string[] Reductions = ["ordered", "fast"];

    /// <summary><c>--init</c> words: Xavier/Glorot and He/Kaiming, normal (the plain name) or uniform; torch, PyTorch's default U(±1/√fan_in).</summary>
    public static readonly string[] InitSchemes = ["xavier", "xavier-uniform", "he", "he-uniform", "torch"];

    /// <summary>The checkpoint file in a run folder.</summary>
    public const string CheckpointFile = "checkpoint.safetensors";

    private readonly Option<string?> _activation = Options.Choice("--activation", "Activation after each hidden layer (default relu).", Activations);
    private readonly Option<double?> _dropout = Options.Number<double>("--dropout", "Dropout probability after each hidden activation, in [0, 1) (default 0: none).");
    private readonly Option<string?> _optimizer = Options.Choice("--optimizer", "Optimiser (default sgd, the report's; fused into the backward pass).", Optimizers);
    private readonly Option<double?> _momentum = Options.Number<double>("--momentum", "μ for momentum/nesterov (default 0.9) and rmsprop (default 0), in [0, 1).");
    private readonly Option<double?> _weightDecay = Options.Number<double>("--weight-decay", "adamw's decoupled weight decay (default 0.01), or momentum/nesterov's (torch's SGD weight_decay, default 0; see --weight-decay-mode); for an L2 penalty with any optimiser use --reg.");
    private readonly Option<double?> _clipNorm = Options.Number<double>("--clip-norm", "Clip the gradients to this global L2 norm (> 0) before each step.");
    private readonly Option<string?> _schedule = Options.Choice("--schedule", "Learning-rate schedule from --lr (default none): per epoch step, exponential, cosine, plateau; per batch triangular (airbench's) and one-cycle (torch's OneCycleLR, linear).", Schedules);
    private readonly Option<int?> _warmup = Options.Number<int>("--warmup", "cosine: epochs of linear warm-up from lr/10 (default 0).");
    private readonly Option<int?> _stepSize = Options.Number<int>("--step-size", "step: epochs between decays (default 10).");
    private readonly Option<double?> _gamma = Options.Number<double>("--gamma", "step/exponential/plateau: the decay factor (defaults 0.1, 0.95, 0.1).");
    private readonly Option<double?> _minLr = Options.Number<double>("--min-lr", "cosine: the final rate; plateau: the floor (default 0).");
    private readonly Option<int?> _plateauPatience = Options.Number<int>("--plateau-patience", "plateau: epochs without improvement before a reduction (default 5).");
    private readonly Option<int?> _earlyStopping = Options.Number<int>("--early-stopping", "Stop after this many epochs without improvement of --monitor and restore the best epoch's weights.");
    private readonly Option<string?> _monitor = Options.Choice("--monitor", "The metric early stopping and plateau watch (default val_loss).", Monitors);
    private readonly Option<double?> _minDelta = Options.Number<double>("--min-delta", "Early stopping: the improvement that counts (default 0).");
    private readonly Option<bool> _test = new("--test") { Description = "Evaluate on the dataset's official test split after every epoch (test_loss, test_acc in history.csv)." };
    private readonly Option<int?> _trainEvalRows = Options.Number<int>("--train-eval-rows", "Measure each epoch's training loss and accuracy on a fixed sample of N training rows instead of all of them (default: all).");
    private readonly Option<int?> _accumulate = Options.Number<int>("--accumulate", "Gradient accumulation: split each batch into N micro-batches, sum their gradients in order, step once (default 1; N must divide --batch-size).");
    private readonly Option<string?> _reduce = Options.Choice("--reduce", "Under mpirun: how ranks sum gradients: ordered (rank order, bit-identical to one process with --accumulate N; the default) or fast (MPI_Allreduce).", Reductions);
    private readonly Option<int?> _checkpointEvery = Options.Number<int>("--checkpoint-every", $"Write RUN/{CheckpointFile} every N epochs and at the end (resume with --resume RUN).");

    /// <summary><c>--resume RUN_DIR</c>: not a setting but an action; the run's config.json supplies every setting.</summary>
    public Option<string?> Resume { get; } = new("--resume") { Description = $"Continue the run in RUN_DIR from its {CheckpointFile}, configured as it was (only --epochs TOTAL and --threads may be given)." };

    /// <summary><c>--overwrite</c>: start a run in a folder that holds an earlier run's checkpoint (deleting it); an action, not a setting.</summary>
    public Option<bool> Overwrite { get; } = new("--overwrite") { Description = $"Start over in an --out folder that holds an earlier run's {CheckpointFile} (it is deleted); without it such a folder is refused." };

    public void AddTo(Command command)
    {
        foreach (var option in (Option[])[_activation, _dropout, _optimizer, _momentum, _weightDecay, _clipNorm, _schedule, _warmup, _stepSize, _gamma, _minLr,
                     _plateauPatience, _earlyStopping, _monitor, _minDelta, _test, _trainEvalRows, _accumulate, _reduce, _checkpointEvery, Resume, Overwrite])
            command.Options.Add(option);
    }

    /// <summary>Copies the options given on the command line into <paramref name="config"/>.</summary>
    public void Read(ParseResult parse, RunConfig config)
    {
        config.Activation = parse.GetValue(_activation);
        config.Dropout = parse.GetValue(_dropout);
        config.Optimizer = parse.GetValue(_optimizer);
        config.Momentum = parse.GetValue(_momentum);
        config.WeightDecay = parse.GetValue(_weightDecay);
        config.ClipNorm = parse.GetValue(_clipNorm);
        config.Schedule = parse.GetValue(_schedule);
        config.Warmup = parse.GetValue(_warmup);
        config.StepSize = parse.GetValue(_stepSize);
        config.Gamma = parse.GetValue(_gamma);
        config.MinLr = parse.GetValue(_minLr);
        config.PlateauPatience = parse.GetValue(_plateauPatience);
        config.EarlyStopping = parse.GetValue(_earlyStopping);
        config.Monitor = parse.GetValue(_monitor);
        config.MinDelta = parse.GetValue(_minDelta);
        config.Test = parse.GetValue(_test) ? true : null;
        config.CheckpointEvery = parse.GetValue(_checkpointEvery);
        config.TrainEvalRows = parse.GetValue(_trainEvalRows);
        config.Accumulate = parse.GetValue(_accumulate);
        config.Reduce = parse.GetValue(_reduce);
    }

    /// <summary>
    /// Fills <paramref name="config"/>'s training fields from <paramref name="given"/>, with defaults for what is left out,
    /// and checks them; fields that do not apply stay null (and are refused when given). <paramref name="name"/> names a
    /// field in messages (the option, or the field in the config file).
    /// </summary>
    /// <exception cref="UsageException">A value is out of range or does not apply to the other settings.</exception>
    public static void Resolve(RunConfig given, RunConfig config, Func<string, string> name)
    {
        void Check(bool ok, string field, string message)
        {
            if (!ok) throw new UsageException($"{name(field)} {message}");
        }
        void OnlyWith(object? value, bool applies, string field, string when) => Check(value is null || applies, field, $"applies only {when}.");
        void Choice(string? value, string field, string[] choices) =>
            Check(value is null || choices.Contains(value), field, $"must be one of {string.Join(", ", choices)}, not '{value}'.");

        Choice(given.Activation, "activation", Activations);
        Choice(given.Optimizer, "optimizer", Optimizers);
        Choice(given.Schedule, "schedule", Schedules);
        Choice(given.Monitor, "monitor", Monitors);
        Choice(given.InitScheme, "init_scheme", InitSchemes);
        config.InitScheme = given.InitScheme;
        config.Activation = given.Activation ?? "relu";
        config.Dropout = given.Dropout is { } p && p != 0 ? p : null;
        Check(config.Dropout is null or (> 0 and < 1), "dropout", "must be in [0, 1).");

        string optimizer = config.Optimizer = given.Optimizer ?? "sgd";
        OnlyWith(given.Momentum, optimizer is "momentum" or "nesterov" or "rmsprop", "momentum", "with --optimizer momentum, nesterov or rmsprop");
        config.Momentum = optimizer switch { "momentum" or "nesterov" => given.Momentum ?? 0.9, "rmsprop" => given.Momentum ?? 0, _ => null };
        Check(config.Momentum is null or (>= 0 and < 1), "momentum", "must be in [0, 1).");
        OnlyWith(given.WeightDecay, optimizer is "adamw" or "momentum" or "nesterov", "weight_decay", "with --optimizer momentum, nesterov or adamw (use --reg for an L2 penalty)");
        config.WeightDecay = optimizer == "adamw" ? given.WeightDecay ?? 0.01 : optimizer is "momentum" or "nesterov" && given.WeightDecay is { } decay and not 0 ? decay : null;
        Check(config.WeightDecay is null || (config.WeightDecay >= 0 && double.IsFinite(config.WeightDecay.Value)), "weight_decay", "must be a finite number ≥ 0.");
        config.ClipNorm = given.ClipNorm;
        Check(config.ClipNorm is null || (config.ClipNorm > 0 && double.IsFinite(config.ClipNorm.Value)), "clip_norm", "must be a finite number > 0.");

        string schedule = config.Schedule = given.Schedule ?? "none";
        OnlyWith(given.Warmup, schedule == "cosine", "warmup", "with --schedule cosine");
        OnlyWith(given.StepSize, schedule == "step", "step_size", "with --schedule step");
        OnlyWith(given.Gamma, schedule is "step" or "exponential" or "plateau", "gamma", "with --schedule step, exponential or plateau");
        OnlyWith(given.MinLr, schedule is "cosine" or "plateau", "min_lr", "with --schedule cosine or plateau");
        OnlyWith(given.PlateauPatience, schedule == "plateau", "plateau_patience", "with --schedule plateau");
        config.Warmup = schedule == "cosine" ? given.Warmup ?? 0 : null;
        Check(config.Warmup is null || (config.Warmup >= 0 && config.Warmup < config.Epochs), "warmup", $"must be ≥ 0 and fewer than the {config.Epochs} epochs.");
        config.StepSize = schedule == "step" ? given.StepSize ?? 10 : null;
        Check(config.StepSize is null or >= 1, "step_size", "must be at least 1.");
        config.Gamma = schedule switch { "step" or "plateau" => given.Gamma ?? 0.1, "exponential" => given.Gamma ?? 0.95, _ => null };
        Check(config.Gamma is null || (config.Gamma > 0 && (schedule != "plateau" || config.Gamma < 1) && double.IsFinite(config.Gamma.Value)), "gamma",
              schedule == "plateau" ? "must be in (0, 1)." : "must be a finite number > 0.");
        config.MinLr = schedule is "cosine" or "plateau" ? given.MinLr ?? 0 : null;
        Check(config.MinLr is null || (config.MinLr >= 0 && config.MinLr <= config.Lr), "min_lr", $"must be in [0, lr = {config.Lr?.ToString(CultureInfo.InvariantCulture)}].");
        config.PlateauPatience = schedule == "plateau" ? given.PlateauPatience ?? 5 : null;
        Check(config.PlateauPatience is null or >= 0, "plateau_patience", "must be ≥ 0.");

        config.EarlyStopping = given.EarlyStopping;
        Check(config.EarlyStopping is null or >= 1, "early_stopping", "must be at least 1 epoch.");
        bool watching = config.EarlyStopping is not null || schedule == "plateau";
        OnlyWith(given.Monitor, watching, "monitor", "with --early-stopping or --schedule plateau");
        OnlyWith(given.MinDelta, config.EarlyStopping is not null, "min_delta", "with --early-stopping");
        config.Monitor = watching ? given.Monitor ?? "val_loss" : null;
        config.MinDelta = config.EarlyStopping is not null ? given.MinDelta ?? 0 : null;
        Check(config.MinDelta is null || (config.MinDelta >= 0 && double.IsFinite(config.MinDelta.Value)), "min_delta", "must be a finite number ≥ 0.");

        config.Test = given.Test == true ? true : null;
        Check(config.Test is null || DatasetCatalog.Find(config.Dataset!) is not null, "test",
              $"needs a dataset with an official test split (fashion-mnist, mnist, cifar-10, cifar-100); '{config.Dataset}' has none.");
        config.CheckpointEvery = given.CheckpointEvery;
        Check(config.CheckpointEvery is null or >= 1, "checkpoint_every", "must be at least 1.");
        config.TrainEvalRows = given.TrainEvalRows;
        Check(config.TrainEvalRows is null or >= 1, "train_eval_rows", "must be at least 1 (leave it out to measure every training row).");

        Choice(given.Reduce, "reduce", Reductions);
        config.Reduce = given.Reduce ?? "ordered";
        config.Accumulate = given.Accumulate ?? 1;
        Check(config.Accumulate >= 1, "accumulate", "must be at least 1.");
        Check(config.BatchSize % config.Accumulate == 0, "accumulate",
              $"must divide the batch size {config.BatchSize} (each micro-batch is batch_size / accumulate rows).");
    }

    /// <summary>The initialiser an <c>--init</c> word names.</summary>
    public static Init InitOf(string scheme) => scheme switch
    {
        "xavier" => Init.XavierNormal,
        "xavier-uniform" => Init.XavierUniform,
        "he" => Init.HeNormal,
        "torch" => Init.TorchDefault,
        _ => Init.HeUniform,
    };

    /// <summary>Adds the hidden activation <paramref name="name"/> (one of <see cref="Activations"/>; null: ReLU).</summary>
    /// <remarks>Built by the layer registry: the option's name is the layer type's, with '-' for '_'.</remarks>
    public static void AddActivation<T>(Network<T> network, string? name) where T : unmanaged, IFloatingPointIeee754<T>
    {
        string kind = (name ?? "relu").Replace('-', '_');
        using var entry = System.Text.Json.JsonDocument.Parse($"[{{\"type\":\"{kind}\"}}]");
        network.Add(LayerSettings.ReadChain<T>(entry.RootElement, network.CurrentShape, "--activation", what => new UsageException($"--activation {name}: {what}"))[0]);
    }

    /// <summary>The optimiser the configuration names, at its learning rate (clipped when <c>clip_norm</c> is set).</summary>
    public static IOptimizer<T> Optimizer<T>(RunConfig c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double lr = c.Lr!.Value;
        IOptimizer<T> optimizer = (c.Optimizer ?? "sgd") switch
        {
            "momentum" or "nesterov" => new SgdMomentum<T>(lr, c.Momentum ?? 0.9, nesterov: c.Optimizer == "nesterov", c.WeightDecay ?? 0, decoupled: c.WeightDecayMode == "decoupled"),
            "adam" => new Adam<T>(lr),
            "adamw" => new AdamW<T>(lr, weightDecay: c.WeightDecay ?? 0.01),
            "rmsprop" => new RmsProp<T>(lr, momentum: c.Momentum ?? 0),
            _ => new Sgd<T>(lr),
        };
        return c.ClipNorm is { } maxNorm ? new ClippedOptimizer<T>(optimizer, maxNorm) : optimizer;
    }

    /// <summary>The library's training options for the configuration, writing checkpoints into <paramref name="runFolder"/> when asked.</summary>
    public static LibraryTrainOptions TrainOptions(RunConfig c, string runFolder, IProgress<BatchProgress>? progress)
    {
        double lr = c.Lr!.Value;
        int epochs = c.Epochs!.Value;
        var monitor = c.Monitor == "val_acc" ? Metric.ValidationAccuracy : Metric.ValidationLoss;
        ILearningRateSchedule? schedule = c.Schedule switch
        {
            "step" => new StepDecay(lr, c.StepSize ?? 10, c.Gamma ?? 0.1),
            "exponential" => new ExponentialDecay(lr, c.Gamma ?? 0.95),
            "cosine" => new WarmupCosine(lr, c.Warmup ?? 0, epochs, c.MinLr ?? 0),
            _ => null,
        };
        return new LibraryTrainOptions
        {
            Epochs = epochs,
            BatchSize = c.BatchSize!.Value,
            Progress = progress,
            Schedule = schedule,
            StepSchedule = RecipeSetup.StepSchedule(c),
            WeightAveraging = RecipeSetup.WeightAveraging(c),
            Plateau = c.Schedule == "plateau"
                ? new ReduceOnPlateau(lr, c.Gamma ?? 0.1, c.PlateauPatience ?? 5, minRate: c.MinLr ?? 0, maximize: monitor == Metric.ValidationAccuracy)
                : null,
            PlateauMonitor = monitor,
            EarlyStopping = c.EarlyStopping is { } patience ? new EarlyStopping(patience, monitor, c.MinDelta ?? 0) : null,
            CheckpointPath = c.CheckpointEvery is not null ? Path.Combine(runFolder, CheckpointFile) : null,
            CheckpointEvery = c.CheckpointEvery ?? 0,
            TrainEvaluationRows = c.TrainEvalRows ?? 0,
            Config = c.ToJson(),
            Accumulate = c.Accumulate ?? 1,
            Reduce = c.Reduce == "fast" ? GradientReduction.Fast : GradientReduction.Ordered,
        };
    }
}
