using System.CommandLine;
using System.Globalization;
using System.Numerics;
using ScratchNet.Data;
using ScratchNet.Data.Augmentation;
using ScratchNet.Data.Catalog;
using ScratchNet.Data.Formats;
using ScratchNet.Optimizers.Schedules;
using ScratchNet.Training;

namespace ScratchNet.Cli.Commands;

/// <summary>
/// The <c>train</c> options of a CIFAR-style recipe: an architecture preset, augmentation (crop, flip, cutout),
/// per-channel normalisation, test-time augmentation, label smoothing, SGD's weight-decay mode, the biases' rate
/// scale, the per-step schedules' shape, and weight averaging. Each is a <see cref="RunConfig"/> field of the same
/// name; <see cref="Resolve"/> fills defaults and refuses settings that would be ignored.
/// </summary>
internal sealed class RecipeSetup
{
    public static readonly string[] Flips = ["none", "random", "alternating"];
    public static readonly string[] Normalizations = ["none", "channels"];
    public static readonly string[] TtaModes = ["none", "flip", "flip-translate"];
    public static readonly string[] WeightDecayModes = ["coupled", "decoupled"];

    private readonly Option<string?> _arch = Options.Choice("--arch", "A named architecture (hidden layers, activation, initialisation, dropout, or a whole layer list; see README); options given beside it override its parts.", [.. ArchPresets.Names]);
    private readonly Option<int?> _cropPadding = Options.Number<int>("--crop-padding", "Image datasets: random crops of the training images padded by N pixels by reflection, i.e. shifts of up to ±N (default 0: none).");
    private readonly Option<string?> _flip = Options.Choice("--flip", "Image datasets: mirror training images left-right at random each epoch, or alternating (airbench: every other epoch per image) (default none).", Flips);
    private readonly Option<int?> _cutout = Options.Number<int>("--cutout", "Image datasets: zero an N×N square of each training image at a random place (default 0: none).");
    private readonly Option<string?> _normalize = Options.Choice("--normalize", "Image datasets: channels normalises each channel to mean 0 and deviation 1 with the training files' statistics (or --norm-mean/--norm-std); none keeps pixel/255 (default).", Normalizations);
    private readonly Option<string?> _normMean = new("--norm-mean") { Description = "With --normalize channels: the per-channel means of pixel/255, comma-separated (default: measured)." };
    private readonly Option<string?> _normStd = new("--norm-std") { Description = "With --normalize channels: the per-channel standard deviations of pixel/255, comma-separated (default: measured)." };
    private readonly Option<string?> _tta = Options.Choice("--tta", "Image datasets: after training, also report validation (and --test) accuracy with test-time augmentation; evaluate uses it by default (default none).", TtaModes);
    private readonly Option<double?> _labelSmoothing = Options.Number<double>("--label-smoothing", "ce: spread this share of each target over all classes, as torch's label_smoothing, in [0, 1) (default 0).");
    private readonly Option<string?> _weightDecayMode = Options.Choice("--weight-decay-mode", "momentum/nesterov with --weight-decay: coupled adds λ·w to the gradient (torch's SGD); decoupled multiplies w by 1 − lr·λ (default coupled).", WeightDecayModes);
    private readonly Option<double?> _biasLrScale = Options.Number<double>("--bias-lr-scale", "Every batch-norm bias trains at lr × S, with weight decay / S (airbench's 64) (default 1).");
    private readonly Option<double?> _peakFraction = Options.Number<double>("--peak-fraction", "triangular/one-cycle: where the rate peaks, as a share of the run's steps (defaults 0.2, 0.3).");
    private readonly Option<double?> _startFactor = Options.Number<double>("--start-factor", "triangular/one-cycle: the first step's rate as a share of --lr (defaults 0.2, 0.04).");
    private readonly Option<double?> _endFactor = Options.Number<double>("--end-factor", "triangular/one-cycle: the rate at the end as a share of --lr (defaults 0, 4e-6).");
    private readonly Option<double?> _ema = Options.Number<double>("--ema", "Keep an exponential moving average of the weights with this decay, in [0, 1); statistics and the saved model use it.");
    private readonly Option<int?> _emaEvery = Options.Number<int>("--ema-every", "--ema: steps between updates of the average (default 1).");
    private readonly Option<double?> _emaPower = Options.Number<double>("--ema-power", "--ema: ramp the decay as decay·(step/steps)^P (airbench: 3) (default 0: constant).");
    private readonly Option<int?> _emaStartEpoch = Options.Number<int>("--ema-start-epoch", "--ema: start the average from the weights at the start of this epoch, from 0 (airbench: 3) (default 0).");
    private readonly Option<bool> _lookahead = new("--lookahead") { Description = "--ema: copy the average back into the weights after each update and each epoch (lookahead, as airbench)." };

    public void AddTo(Command command)
    {
        foreach (var option in (Option[])[_arch, _cropPadding, _flip, _cutout, _normalize, _normMean, _normStd, _tta, _labelSmoothing, _weightDecayMode,
                     _biasLrScale, _peakFraction, _startFactor, _endFactor, _ema, _emaEvery, _emaPower, _emaStartEpoch, _lookahead])
            command.Options.Add(option);
    }

    /// <summary>Copies the options given on the command line into <paramref name="config"/>.</summary>
    public void Read(ParseResult parse, RunConfig config)
    {
        config.Arch = parse.GetValue(_arch);
        config.CropPadding = parse.GetValue(_cropPadding);
        config.Flip = parse.GetValue(_flip);
        config.Cutout = parse.GetValue(_cutout);
        config.Normalize = parse.GetValue(_normalize);
        config.NormMean = parse.GetValue(_normMean) is { } mean ? Numbers(mean, "--norm-mean") : null;
        config.NormStd = parse.GetValue(_normStd) is { } std ? Numbers(std, "--norm-std") : null;
        config.Tta = parse.GetValue(_tta);
        config.LabelSmoothing = parse.GetValue(_labelSmoothing);
        config.WeightDecayMode = parse.GetValue(_weightDecayMode);
        config.BiasLrScale = parse.GetValue(_biasLrScale);
        config.PeakFraction = parse.GetValue(_peakFraction);
        config.StartFactor = parse.GetValue(_startFactor);
        config.EndFactor = parse.GetValue(_endFactor);
        config.Ema = parse.GetValue(_ema);
        config.EmaEvery = parse.GetValue(_emaEvery);
        config.EmaPower = parse.GetValue(_emaPower);
        config.EmaStartEpoch = parse.GetValue(_emaStartEpoch);
        config.Lookahead = parse.GetValue(_lookahead) ? true : null;
    }

    private static double[] Numbers(string text, string option)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !double.IsFinite(values[i]))
                throw new UsageException($"{option}: '{parts[i]}' is not a number; expected comma-separated numbers, one per channel, e.g. {option} 0.49,0.48,0.45.");
        return values;
    }

    /// <summary>
    /// Fills <paramref name="config"/>'s recipe fields from <paramref name="given"/> (after the training fields: the
    /// optimiser, schedule, loss and dataset are set), with defaults, and checks them. Fields that do not apply stay null
    /// (and are refused when given); values that change nothing (0, none, 1) are left out.
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

        Choice(given.Arch, "arch", [.. ArchPresets.Names]);
        config.Arch = given.Arch;

        // Augmentation, normalisation and TTA act on images: the catalog's image datasets.
        var entry = DatasetCatalog.Find(config.Dataset!);
        int side = entry is null ? 0 : entry.Format is CatalogFormat.Cifar10 or CatalogFormat.Cifar100 ? Cifar.Side : 28;
        string images = $"to the image datasets ({string.Join(", ", DatasetCatalog.All.Select(e => e.Name))}), not to '{config.Dataset}'";
        foreach (var (value, field) in new (object?, string)[] { (given.CropPadding, "crop_padding"), (given.Flip, "flip"), (given.Cutout, "cutout"), (given.Normalize, "normalize"), (given.Tta, "tta") })
            Check(value is null || entry is not null, field, $"applies only {images}.");
        Check(given.CropPadding is null || (given.CropPadding >= 0 && given.CropPadding < side), "crop_padding", $"must be in [0, {side - 1}] for {side}×{side} images.");
        config.CropPadding = given.CropPadding is > 0 ? given.CropPadding : null;
        Choice(given.Flip, "flip", Flips);
        config.Flip = given.Flip is "random" or "alternating" ? given.Flip : null;
        Check(given.Cutout is null || (given.Cutout >= 0 && given.Cutout <= side), "cutout", $"must be in [0, {side}] for {side}×{side} images.");
        config.Cutout = given.Cutout is > 0 ? given.Cutout : null;
        Choice(given.Normalize, "normalize", Normalizations);
        bool normalize = given.Normalize == "channels";
        config.Normalize = normalize ? "channels" : null;
        OnlyWith(given.NormMean, normalize, "norm_mean", "with --normalize channels");
        OnlyWith(given.NormStd, normalize, "norm_std", "with --normalize channels");
        if ((given.NormMean is null) != (given.NormStd is null))
        {
            string missing = given.NormMean is null ? "norm_mean" : "norm_std", present = given.NormMean is null ? "norm_std" : "norm_mean";
            Check(false, missing, $"is missing: give it with {name(present)} (or neither, to measure both).");
        }
        int channels = entry is null ? 0 : entry.Format is CatalogFormat.Cifar10 or CatalogFormat.Cifar100 ? 3 : 1;
        Check(given.NormMean is null || given.NormMean.Length == channels, "norm_mean", $"gives {given.NormMean?.Length} means; the images have {channels} channels.");
        Check(given.NormStd is null || given.NormStd.Length == channels, "norm_std", $"gives {given.NormStd?.Length} deviations; the images have {channels} channels.");
        Check(given.NormMean is null || given.NormMean.All(double.IsFinite), "norm_mean", "must be finite numbers.");
        Check(given.NormStd is null || given.NormStd.All(v => v > 0 && double.IsFinite(v)), "norm_std", "must be finite numbers > 0.");
        config.NormMean = given.NormMean;
        config.NormStd = given.NormStd;
        Choice(given.Tta, "tta", TtaModes);
        config.Tta = given.Tta is "flip" or "flip-translate" ? given.Tta : null;

        OnlyWith(given.LabelSmoothing is 0 ? null : given.LabelSmoothing, config.Loss == "ce", "label_smoothing", "with --loss ce");
        Check(given.LabelSmoothing is null or (>= 0 and < 1), "label_smoothing", "must be in [0, 1).");
        config.LabelSmoothing = given.LabelSmoothing is > 0 ? given.LabelSmoothing : null;

        OnlyWith(given.WeightDecayMode, config.Optimizer is "momentum" or "nesterov" && config.WeightDecay is not null, "weight_decay_mode",
                 "with --optimizer momentum or nesterov and --weight-decay (adamw's decay is always decoupled)");
        Choice(given.WeightDecayMode, "weight_decay_mode", WeightDecayModes);
        config.WeightDecayMode = config.Optimizer is "momentum" or "nesterov" && config.WeightDecay is not null ? given.WeightDecayMode ?? "coupled" : null;
        Check(given.BiasLrScale is null || (given.BiasLrScale > 0 && double.IsFinite(given.BiasLrScale.Value)), "bias_lr_scale", "must be a finite number > 0.");
        config.BiasLrScale = given.BiasLrScale is { } scale && scale != 1 ? scale : null;

        string schedule = config.Schedule!;
        bool perStep = schedule is "triangular" or "one-cycle";
        OnlyWith(given.PeakFraction, perStep, "peak_fraction", "with --schedule triangular or one-cycle");
        OnlyWith(given.StartFactor, perStep, "start_factor", "with --schedule triangular or one-cycle");
        OnlyWith(given.EndFactor, perStep, "end_factor", "with --schedule triangular or one-cycle");
        config.PeakFraction = perStep ? given.PeakFraction ?? (schedule == "triangular" ? 0.2 : 0.3) : null;
        config.StartFactor = perStep ? given.StartFactor ?? (schedule == "triangular" ? 0.2 : 1 / 25.0) : null;
        config.EndFactor = perStep ? given.EndFactor ?? (schedule == "triangular" ? 0 : 1 / 25e4) : null;
        if (schedule == "triangular")
            Check(config.PeakFraction is >= 0 and <= 1, "peak_fraction", "must be in [0, 1].");
        else if (perStep)
            Check(config.PeakFraction is > 0 and < 1, "peak_fraction", "must be in (0, 1) for one-cycle.");
        Check(!perStep || config.StartFactor is > 0 and <= 1, "start_factor", "must be in (0, 1].");
        Check(!perStep || (schedule == "triangular" ? config.EndFactor is >= 0 and <= 1 : config.EndFactor > 0 && config.EndFactor <= config.StartFactor),
              "end_factor", schedule == "triangular" ? "must be in [0, 1]." : "must be in (0, start_factor] for one-cycle.");

        OnlyWith(given.EmaEvery, given.Ema is not null, "ema_every", "with --ema");
        OnlyWith(given.EmaPower, given.Ema is not null, "ema_power", "with --ema");
        OnlyWith(given.EmaStartEpoch, given.Ema is not null, "ema_start_epoch", "with --ema");
        OnlyWith(given.Lookahead is true ? true : null, given.Ema is not null, "lookahead", "with --ema");
        Check(given.Ema is null or (>= 0 and < 1), "ema", "must be in [0, 1).");
        Check(given.Ema is null || config.CheckpointEvery is null, "ema", "does not combine with --checkpoint-every: checkpoints do not hold the average.");
        Check(given.Ema is null || config.EarlyStopping is null, "ema", "does not combine with --early-stopping, whose best weights would be the live ones, not the average.");
        config.Ema = given.Ema;
        config.EmaEvery = given.Ema is null ? null : given.EmaEvery ?? 1;
        Check(config.EmaEvery is null or >= 1, "ema_every", "must be at least 1.");
        config.EmaPower = given.Ema is null ? null : given.EmaPower ?? 0;
        Check(config.EmaPower is null || (config.EmaPower >= 0 && double.IsFinite(config.EmaPower.Value)), "ema_power", "must be a finite number ≥ 0.");
        config.EmaStartEpoch = given.Ema is null ? null : given.EmaStartEpoch ?? 0;
        Check(config.EmaStartEpoch is null || (config.EmaStartEpoch >= 0 && config.EmaStartEpoch < config.Epochs), "ema_start_epoch",
              "must be at least 0 and below epochs: the average would never start.");
        config.Lookahead = given.Ema is not null && given.Lookahead == true ? true : null;
    }

    /// <summary>Whether training batches are drawn through an <see cref="AugmentedImages{T}"/> (augmentation or normalisation).</summary>
    public static bool UsesImageSource(RunConfig c) =>
        c.CropPadding is not null || c.Flip is not null || c.Cutout is not null || c.Normalize is not null || c.Tta is not null;

    /// <summary>The augmentation the configuration names.</summary>
    public static ImageAugmentation Augmentation(RunConfig c) => new(
        c.CropPadding ?? 0,
        c.Flip switch { "random" => FlipMode.Random, "alternating" => FlipMode.Alternating, _ => FlipMode.None },
        c.Cutout ?? 0);

    /// <summary>
    /// The normalisation of the configuration: its means and deviations, or (with <c>normalize: channels</c> and none
    /// given) those measured on <paramref name="images"/>, written into <paramref name="c"/> so that config.json and the
    /// model file record them. Null without normalisation.
    /// </summary>
    public static ChannelNormalization? Normalization(RunConfig c, ImageSet images)
    {
        if (c.Normalize != "channels") return null;
        if (c.NormMean is { } mean && c.NormStd is { } std) return new ChannelNormalization(mean, std);
        var measured = ChannelNormalization.Measure(images);
        c.NormMean = [.. measured.Mean];
        c.NormStd = [.. measured.Std];
        return measured;
    }

    /// <summary>The normalisation a trained run recorded (its config's means and deviations), or null.</summary>
    public static ChannelNormalization? RecordedNormalization(RunConfig? c) =>
        c is { NormMean: { } mean, NormStd: { } std } ? new ChannelNormalization(mean, std) : null;

    /// <summary>The test-time augmentation a word names (null: none).</summary>
    public static TtaMode TtaOf(string? word) => word switch { "flip" => TtaMode.Flip, "flip-translate" => TtaMode.FlipTranslate, _ => TtaMode.None };

    /// <summary>The per-step schedule of the configuration, or null.</summary>
    public static IStepSchedule? StepSchedule(RunConfig c) => c.Schedule switch
    {
        "triangular" => new Triangular(c.Lr!.Value, c.PeakFraction ?? 0.2, c.StartFactor ?? 0.2, c.EndFactor ?? 0),
        // torch's parameters: div_factor = 1 / start, final_div_factor = start / end.
        "one-cycle" => new OneCycle(c.Lr!.Value, c.PeakFraction ?? 0.3, 1 / (c.StartFactor ?? 0.04), (c.StartFactor ?? 0.04) / (c.EndFactor ?? 4e-6)),
        _ => null,
    };

    /// <summary>The weight averaging of the configuration, or null.</summary>
    public static WeightAveraging? WeightAveraging(RunConfig c) =>
        c.Ema is { } decay ? new WeightAveraging(decay, c.EmaEvery ?? 1, c.EmaPower ?? 0, c.Lookahead == true, c.EmaStartEpoch ?? 0) : null;

    /// <summary>Sets the network's label smoothing and the batch-norm biases' rate scale (and weight decay) the configuration asks for.</summary>
    public static void Apply<T>(RunConfig c, Network<T> network) where T : unmanaged, IFloatingPointIeee754<T>
    {
        network.LabelSmoothing = c.LabelSmoothing ?? 0;
        if (c.BiasLrScale is not { } scale) return;
        foreach (var bias in NormalizationBiases(network.Layers))
        {
            bias.LearningRateScale = scale;
            // lr·S·(λ/S) = lr·λ: the biases decay per step as much as the weights (airbench's weight_decay / lr_biases).
            if (c.WeightDecay is { } decay) bias.WeightDecay = decay / scale;
        }
    }

    // β of every batch-norm layer, children's included. Only these: airbench scales the batch-norm biases alone, and a
    // classifier's bias at 64 times the rate swings the logits by whole units a step.
    private static IEnumerable<Layers.Parameter<T>> NormalizationBiases<T>(IEnumerable<Layers.Layer<T>> layers) where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (var layer in layers)
        {
            var bias = layer switch { Layers.BatchNorm2d<T> b => b.Bias, Layers.BatchNorm1d<T> b => b.Bias, _ => null };
            if (bias is not null) yield return bias;
            foreach (var nested in NormalizationBiases(layer.Children.Select(child => child.Value))) yield return nested;
        }
    }
}

/// <summary>
/// Named architectures for <c>--arch</c>: each is a fragment of a run configuration (the fields that describe the
/// network), applied under the command line and the config file and over the dataset's recipe. A new preset is one
/// entry in <see cref="Table"/>.
/// </summary>
internal static class ArchPresets
{
    private static readonly Dictionary<string, RunConfig> Table = new()
    {
        // The report's network: 800-300 ReLU, w = 0.001, 0.0025, 0.03.
        ["report-mlp"] = new() { Layers = [800, 300], Init = [0.001, 0.0025, 0.03], Activation = "relu" },
        // The digits recipe's 128-64, He-initialised.
        ["mlp-128-64"] = new() { Layers = [128, 64], InitScheme = "he", Activation = "relu" },
        // experiments/fashion-mnist-mlp.json's network: 1024-512 ReLU, He, dropout 0.2.
        ["mlp-1024-512-dropout"] = new() { Layers = [1024, 512], InitScheme = "he", Activation = "relu", Dropout = 0.2 },
        // A wide GELU MLP for CIFAR-sized inputs, until the convolutional presets arrive.
        ["mlp-gelu-2048"] = new() { Layers = [2048, 1024], InitScheme = "he", Activation = "gelu" },
        // The whole network as a layer list (the model file's format): CIFAR's 3,072 inputs, batch norm after each hidden layer.
        ["cifar-mlp-bn"] = new()
        {
            Network = Layers("""
                [{"type": "linear", "in": 3072, "out": 1024, "regularized": false}, {"type": "batchnorm1d", "features": 1024, "momentum": 0.1, "eps": 1e-5}, {"type": "gelu"},
                 {"type": "linear", "in": 1024, "out": 512, "regularized": false}, {"type": "batchnorm1d", "features": 512, "momentum": 0.1, "eps": 1e-5}, {"type": "gelu"},
                 {"type": "linear", "in": 512, "out": 10, "regularized": false}, {"type": "softmax"}]
                """),
            InitScheme = "he",
        },
        // airbench94's network (experiments/cifar10-cnn.json): a frozen 2×2 whitening conv whose bias trains for the
        // first 3 epochs (airbench's whiten_bias_epochs), then three blocks of
        // conv-pool-BN-GELU-conv-BN-GELU (widths 64, 256, 256; Dirac-initialised convs, BN with γ frozen at 1), a 3×3
        // max-pool, a linear layer and logits × 1/9; weights drawn as PyTorch's defaults, which airbench's rates assume.
        ["cnn-airbench94"] = new() { Network = Airbench([64, 256, 256], whiteningBiasEpochs: 3), InitScheme = "torch" },
        // The same with widths 64, 128, 128 (airbench93's) and the whitening bias trained for the first of its 4 epochs
        // (airbench's 3 of 9.9, about the same share): experiments/cifar10-cnn-quick.json.
        ["cnn-airbench-quick"] = new() { Network = Airbench([64, 128, 128], whiteningBiasEpochs: 1), InitScheme = "torch" },
    };

    /// <summary>airbench's network with the given block widths and whitening-bias epochs, as a <c>network</c> layer list.</summary>
    internal static System.Text.Json.JsonElement Airbench(int[] widths, int whiteningBiasEpochs)
    {
        const string Gelu = """{"type": "gelu", "approximate": "none"}""";   // the exact form, as airbench's nn.GELU()
        var layers = new List<string>
        {
            $$"""{"type": "conv2d", "in_channels": 3, "out_channels": 24, "kernel_size": [2, 2], "stride": [1, 1], "padding": [0, 0], "bias": true, "groups": 1, "frozen_weight": true, "init": "whiten", "freeze_after_epochs": {{whiteningBiasEpochs}}}""",
            Gelu,
        };
        string Conv(int from, int to) =>
            $$"""{"type": "conv2d", "in_channels": {{from}}, "out_channels": {{to}}, "kernel_size": [3, 3], "stride": [1, 1], "padding": "same", "bias": false, "groups": 1, "init": "dirac"}""";
        // torch momentum 0.4 is airbench's 0.6 (it passes 1 − momentum), eps 1e-12.
        string Norm(int channels) => $$"""{"type": "batchnorm2d", "features": {{channels}}, "momentum": 0.4, "eps": 1e-12, "affine": true, "frozen_weight": true}""";
        int channels = 24;
        foreach (int width in widths)
        {
            layers.AddRange([Conv(channels, width), """{"type": "maxpool2d", "kernel_size": [2, 2], "stride": [2, 2], "padding": [0, 0]}""", Norm(width), Gelu,
                             Conv(width, width), Norm(width), Gelu]);
            channels = width;
        }
        layers.AddRange(["""{"type": "maxpool2d", "kernel_size": [3, 3], "stride": [3, 3], "padding": [0, 0]}""", """{"type": "flatten"}""",
                         $$"""{"type": "linear", "in": {{channels}}, "out": 10, "regularized": false, "bias": false}""", """{"type": "scale", "factor": 0.1111111111111111}""", """{"type": "softmax"}"""]);
        return Layers($"[{string.Join(", ", layers)}]");
    }

    private static System.Text.Json.JsonElement Layers(string json)
    {
        using var document = System.Text.Json.JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    /// <summary>The preset names.</summary>
    public static IEnumerable<string> Names => Table.Keys;

    /// <summary>
    /// <paramref name="given"/> with the fields of its <c>arch</c> preset filled in where it leaves them null (the init
    /// scales and initialiser count as one setting: either given wins).
    /// </summary>
    public static RunConfig Apply(RunConfig given)
    {
        if (given.Arch is null || !Table.TryGetValue(given.Arch, out var preset)) return given;
        var merged = preset.OverriddenBy(given);
        if (given.Init is not null || given.InitScheme is not null) (merged.Init, merged.InitScheme) = (given.Init, given.InitScheme);
        // Hidden widths given beside a layer-list preset replace the list (they describe another network).
        if (given.Layers is not null && given.Network is null) merged.Network = null;
        return merged;
    }
}
