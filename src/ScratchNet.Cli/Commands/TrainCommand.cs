using System.CommandLine;
using System.Globalization;
using System.Numerics;
using ScratchNet.Compute;
using ScratchNet.Data.Augmentation;
using ScratchNet.Data.Catalog;
using ScratchNet.Losses;
using ScratchNet.Training;

namespace ScratchNet.Cli.Commands;

/// <summary>
/// <c>scratchnet train</c>: builds an MLP, trains it with the report's client loop, prints the report's
/// epoch lines and fills a run folder (<see cref="RunFolder"/>). Settings come from the command line,
/// then <c>--config FILE</c> (a <see cref="RunConfig"/>), then the dataset's <see cref="Recipe"/>.
/// </summary>
public static class TrainCommand
{
    /// <summary>Exit code of a run stopped by Ctrl-C (128 + SIGINT, as shells report it); what was trained is saved. SIGTERM gives 143, SIGHUP 129 (see <see cref="Shutdown"/>).</summary>
    public const int Interrupted = 130;

    /// <summary>Creates the command; it writes epoch lines to <paramref name="output"/> and warnings to <paramref name="error"/>.</summary>
    public static Command Create(TextWriter output, TextWriter error)
    {
        var options = new TrainCommandOptions();
        var command = new Command("train", "Train an MLP and print the report's per-epoch lines (E: n  tL  tA  vL  vA  s). Options left out come from --config, " +
                                           "else the dataset's recipe (see README). Writes a run folder (--out).");
        options.AddTo(command);
        command.SetAction(parse =>
        {
            var settings = options.Resolve(parse);
            using var shutdown = Shutdown.Listen(error);
            return shutdown.ExitCode(Run(settings, output, error, shutdown.Token, ConsoleView.For(output)));
        });
        return command;
    }

    /// <summary>Trains as <paramref name="settings"/> say and fills the run folder; returns the exit code (0, or <see cref="Interrupted"/>).</summary>
    internal static int Run(TrainSettings settings, TextWriter output, TextWriter error, CancellationToken cancel, ITrainingView view) =>
        Execute(settings, output, error, cancel, view).Result.Interrupted ? Interrupted : 0;

    /// <summary>Trains as <paramref name="settings"/> say, fills the run folder and returns what the run produced.</summary>
    internal static RunSummary Execute(TrainSettings settings, TextWriter output, TextWriter error, CancellationToken cancel, ITrainingView view)
    {
        // Under mpirun with several ranks: data-parallel (see MpiRun); a fault of this rank alone ends the whole job.
        using var mpi = MpiRun.Start(settings.Config);
        try
        {
            return settings.Config.Dtype == "float64" ? Train<double>(settings, output, error, cancel, view, mpi) : Train<float>(settings, output, error, cancel, view, mpi);
        }
        catch (Exception e) when (mpi is not null && MpiRun.IsLocal(e))
        {
            mpi.Group.AbortJob(e is ArgumentException { ParamName: { } name } ? e.Message.Replace($" (Parameter '{name}')", "") : e.Message);
            throw;
        }
    }

    private static RunSummary Train<T>(TrainSettings s, TextWriter output, TextWriter error, CancellationToken cancel, ITrainingView view, MpiRun? mpi) where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool root = mpi?.IsRoot ?? true;
        var c = s.Config;
        int previousThreads = Threading.ThreadCount;
        Threading.ThreadCount = c.Threads!.Value;
        try
        {
            var data = mpi is null
                ? Memory.While($"loading {c.Dataset}", () => DataLoader.Load<T>(s.Data, c.Seed!.Value, error))
                : mpi.RankZeroFirst(() => Memory.While($"loading {c.Dataset}", () => DataLoader.Load<T>(s.Data, c.Seed!.Value, error)));
            // Augmentation and normalisation: the images stay bytes, batches are transformed as they are gathered.
            var normalization = data.Images is { } loaded && RecipeSetup.UsesImageSource(c) ? RecipeSetup.Normalization(c, loaded) : null;
            if (data.Images is { } raw && RecipeSetup.UsesImageSource(c))
                data = data with { Samples = new AugmentedImages<T>(raw, RecipeSetup.Augmentation(c), normalization, c.Seed!.Value) };
            var samples = data.Samples;
            // Without init: He initialisation, whose scale suits the ReLU after each hidden layer. Written out as
            // numbers, so the run's config.json builds the same weights (AddLinear with these scales is He).
            if (c.InitScheme is null && c.Network is null) c.Init ??= [.. c.Layers!.Prepend(samples.FeatureCount).Select(Network<T>.HeScale)];
            string widths = c.Network is { } list ? $"{samples.FeatureCount}-…-{samples.TargetCount} ({list.GetArrayLength()} layers from 'network')"
                : string.Join('-', c.Layers!.Prepend(samples.FeatureCount).Append(samples.TargetCount));
            var network = Memory.While(
                string.Create(CultureInfo.InvariantCulture, $"building the network {widths} ({typeof(T).Name} weights)"),
                () => BuildNetwork<T>(c, samples.FeatureCount, samples.TargetCount, ListInputShape(c, data.Images)));
            foreach (string warning in network.Warnings) error.WriteLine($"warning: {warning}");

            network.Optimizer = TrainingSetup.Optimizer<T>(c);
            RecipeSetup.Apply(c, network);
            var trainer = new Trainer<T>(network, samples, c.ValFraction!.Value, c.Stratify!.Value, c.Seed!.Value);
            WhitenFromData(c, network, samples, trainer.TrainRows);
            FreezeOnSchedule(c, network, trainer);
            if (c.Test == true)
            {
                var test = DataLoader.Load<T>(DataOptions.Read(c.Dataset!, DatasetSplit.Test, c.DataDir, c.Labels, c.CsvLabel, c.CsvHeader), c.Seed!.Value, error);
                // The test images normalised as the training ones (never augmented: the trainer evaluates through Gather).
                if (test.Images is { } testImages && RecipeSetup.UsesImageSource(c)) test = test with { Samples = new AugmentedImages<T>(testImages, null, normalization) };
                trainer.TestSamples = test.Samples;
                output.WriteLine($"# test set: {test.Description} ({test.Samples.Count} samples)");
            }
            if (s.ResumeFrom is { } checkpoint)
            {
                trainer.Resume(checkpoint);
                output.WriteLine($"# resuming from {checkpoint}");
            }
            if (data.Images is { } images)
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"# {images}; pixels held as bytes: {images.ByteSize / 1e6:F1} MB ({images.Pixels.LongLength * (typeof(T) == typeof(float) ? 4 : 8) / 1e6:F1} MB as {c.Dtype})"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"# {data.Name}: {data.Description}; {trainer.TrainRows.Count} train, {trainer.ValidationRows.Count} validation; network {network}; " +
                $"lr {c.Lr}, reg {c.Reg}, batch {c.BatchSize}, {c.Epochs} epochs, {c.Dtype}, seed {c.Seed}, {c.Threads} threads; " +
                $"optimizer {c.Optimizer}{(c.ClipNorm is { } clip ? $" (clip {clip})" : "")}, schedule {c.Schedule}"));
            output.WriteLine($"# run folder: {s.OutDir}");
            if (mpi is not null)
                output.WriteLine($"# data-parallel on {mpi.Group.Size} ranks ({mpi.Group.Library}, {mpi.Group.Version}): global batch {c.BatchSize}, {c.BatchSize / mpi.Group.Size} rows per rank" +
                                 (c.Accumulate > 1 ? $" in {c.Accumulate} micro-batches" : "") + $", {c.Reduce} reduction");
            else if (c.Accumulate > 1)
                output.WriteLine($"# gradient accumulation: {c.Accumulate} micro-batches of {c.BatchSize / c.Accumulate} rows per step");
            output.Flush();

            // Under mpirun each rank takes a GPU of its machine (its local rank modulo their count); accumulation and
            // data parallelism stage the gradients through the host.
            using var placement = DeviceChoice.Select(c, network, output, mpi is null ? 0 : MpiRun.LocalRank());
            // Before any training: the folder must take files (config.json is written first), and an earlier run's
            // checkpoint in it is removed only when --overwrite said so (Resolve refused it otherwise).
            var folder = new RunFolder(s.OutDir);
            if (root) folder.Start(c, removeCheckpoint: s.Overwrite);
            var run = new TrainingRun<T>(trainer, TrainingSetup.TrainOptions(c, s.OutDir, progress: null) with { Processes = mpi?.Group }, view);
            mpi?.Meet();
            var metadata = ModelMetadata.For(c);
            RunResult result;
            try
            {
                result = Memory.While($"training (batch size {c.BatchSize})", () => run.Execute(cancel));
            }
            catch (DivergenceException e) when (e.History is { } sofar)
            {
                // The trainer put back the weights of the last good epoch: keep them, then fail with the one-line message.
                if (root)
                    folder.Write(c, sofar, network, metadata, $"{data.Name}: network {network}",
                    new RunSummary(data.Name, network.ToString(), trainer.TrainRows.Count, trainer.ValidationRows.Count, new RunResult(sofar, false, 0), c.Epochs!.Value));
                throw;
            }
            var history = result.History;
            var final = history.Final;
            string testStats = history.HasTestSet ? string.Create(CultureInfo.InvariantCulture, $"test loss {final.TestLoss:F4}, accuracy {final.TestAccuracy:F4}; ") : "";
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"# final: train loss {final.TrainLoss:F4}, accuracy {final.TrainAccuracy:F4}; validation loss {final.ValidationLoss:F4}, accuracy {final.ValidationAccuracy:F4}; " +
                $"{testStats}{result.TrainingSeconds:F1} s, {result.SamplesPerSecond(trainer.TrainRows.Count):F0} samples/s"));
            if (c.Tta is { } tta && samples is AugmentedImages<T> views)
            {
                // Test-time augmentation of the final weights, after the run (its seconds are not in the history).
                var mode = RecipeSetup.TtaOf(tta);
                var (ttaLoss, ttaAccuracy) = TestTimeAugmentation.Evaluate(network, views, [.. trainer.ValidationRows], mode);
                string ttaTest = "";
                if (trainer.TestSamples is AugmentedImages<T> testViews)
                {
                    var (testLoss, testAccuracy) = TestTimeAugmentation.Evaluate(network, testViews, [.. Enumerable.Range(0, testViews.Count)], mode);
                    ttaTest = string.Create(CultureInfo.InvariantCulture, $"; test loss {testLoss:F4}, accuracy {testAccuracy:F4}");
                }
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# tta {tta}: validation loss {ttaLoss:F4}, accuracy {ttaAccuracy:F4}{ttaTest}"));
            }
            if (history.StopReason == StopReason.EarlyStopped)
                output.WriteLine($"# early stopping after epoch {final.Epoch}: no improvement of {c.Monitor} for {c.EarlyStopping} epochs");
            if (history.BestEpoch is { } best && c.EarlyStopping is not null)
                output.WriteLine($"# the model holds the weights of epoch {best}, the best by {c.Monitor}");
            if (result.Interrupted)
                output.WriteLine($"# interrupted after {history.Count - 1} of {c.Epochs} epochs; saving what was trained" +
                                 (c.CheckpointEvery is not null ? $" (resume with --resume {s.OutDir})" : ""));

            var summary = new RunSummary(data.Name, network.ToString(), trainer.TrainRows.Count, trainer.ValidationRows.Count, result, c.Epochs!.Value);
            if (root)
                foreach (string path in folder.Write(c, history, network, metadata, $"{data.Name}: network {network}", summary))
                    output.WriteLine($"# wrote {path}");
            return summary;
        }
        finally
        {
            Threading.ThreadCount = previousThreads;
        }
    }

    /// <summary>The MLP the configuration describes: linear layers of the hidden widths with ReLU between, then the output layer (and softmax for ce).</summary>
    internal static Network<T> BuildNetwork<T>(RunConfig c, int inputs, int outputs, Shape? inputShape = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var loss = c.Loss == "l2" ? Loss.L2 : Loss.CrossEntropy;
        var network = new Network<T>(inputShape ?? new Shape(inputs), outputs, loss, c.Reg!.Value, c.Lr!.Value, c.Seed!.Value);
        if (c.Network is { } list) return BuildFromList(network, list, c.InitScheme, c.Seed!.Value);
        int[] widths = [.. c.Layers!, outputs];
        for (int k = 0; k < widths.Length; k++)
        {
            if (c.InitScheme is { } scheme) network.AddLinear(widths[k], TrainingSetup.InitOf(scheme), regularization: c.Reg.Value > 0);
            else network.AddLinear(widths[k], w: c.Init![k], regularization: c.Reg.Value > 0);
            if (k == widths.Length - 1) break;
            TrainingSetup.AddActivation(network, c.Activation);
            if (c.Dropout is { } rate and > 0) network.AddDropout(rate);
        }
        if (loss == Loss.CrossEntropy) network.AddSoftmax();
        network.Build();
        return network;
    }

    /// <summary>
    /// The sample shape a <c>network</c> list reads on an image dataset: (C, H, W) for image layers, unless the list
    /// opens with a linear layer (an MLP reads the flat pixels, and a PyTorch <c>nn.Linear</c> loading its model file
    /// expects them flat). Null (flat) otherwise.
    /// </summary>
    internal static Shape? ListInputShape(RunConfig c, Data.ImageSet? images) =>
        c.Network is { ValueKind: System.Text.Json.JsonValueKind.Array } list && images is not null && list.GetArrayLength() > 0
        && !(list[0].ValueKind == System.Text.Json.JsonValueKind.Object && list[0].TryGetProperty("type", out var type) && type.ValueKind == System.Text.Json.JsonValueKind.String && type.GetString() == "linear")
            ? new Shape(images.Channels, images.Height, images.Width)
            : null;

    /// <summary>
    /// The network a <c>network</c> list describes: each entry is a layer in the model file's format (<c>{"type": "linear", "in": 3072,
    /// "out": 256, "regularized": false}</c>, <c>{"type": "relu"}</c>, …), read through the layer registry, so every registered layer
    /// type works. Weights of rank ≥ 2 (a linear layer's (out, in)) are drawn with <paramref name="initScheme"/> (He normal when
    /// null) for their fan-in (size / first dimension), in parameter order from the run's seed; other state keeps the layer's
    /// own initial values (zero biases, batch norm's γ = 1).
    /// </summary>
    /// <exception cref="UsageException">An entry is malformed, names an unknown type, or does not fit the shape before it.</exception>
    internal static Network<T> BuildFromList<T>(Network<T> network, System.Text.Json.JsonElement list, string? initScheme, ulong seed) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var layers = Layers.LayerSettings.ReadChain<T>(list, network.InputShape, "'network'", what => new UsageException($"'network' in the configuration: {what}."));
        foreach (var layer in layers)
        {
            try { network.Add(layer); }
            catch (NetworkBuildException e) { throw new UsageException($"'network' in the configuration: {e.Message}"); }
        }
        var init = initScheme is null ? Layers.Init.HeNormal : TrainingSetup.InitOf(initScheme);
        var rng = new Rng(seed);
        // The trained weights, and a frozen convolution's (which a whitening init may overwrite), in parameter order.
        var weights = network.Parameters.Where(p => p.Name == "weight" && p.Shape.Rank >= 2)
            .Concat(network.Layers.OfType<Layers.Conv2d<T>>().Where(conv => conv.FrozenWeight).Select(conv => conv.Weight));
        foreach (var parameter in weights)
        {
            int fanOut = parameter.Shape[0], fanIn = parameter.Shape.Size / fanOut;
            Layers.Initializers.Fill(parameter.Value.Span, init, fanIn, fanOut, rng);
        }
        foreach (var (index, how) in EntryInits(list))
        {
            if (how != "dirac") continue;   // "whiten" needs the training images: WhitenFromData, once they are loaded
            Layers.ConvolutionInit.Dirac((Layers.Conv2d<T>)network.Layers[index]);
        }
        try { network.Build(); }
        catch (NetworkBuildException e) { throw new UsageException($"'network' in the configuration: {e.Message}"); }
        return network;
    }

    /// <summary>
    /// The <c>init</c> of the top-level <c>network</c> entries that give one: <c>dirac</c> (a convolution that starts
    /// as the identity on its first channels, over the random weights) or <c>whiten</c> (a convolution whose filters
    /// whiten the training images' patches, airbench's first layer; see <see cref="Layers.ConvolutionInit"/>), by index.
    /// </summary>
    /// <exception cref="UsageException">An <c>init</c> other than those, or on an entry that is not a conv2d.</exception>
    internal static List<(int Index, string Init)> EntryInits(System.Text.Json.JsonElement list)
    {
        var inits = new List<(int, string)>();
        foreach (var (index, entry, init) in EntriesWith(list, "init"))
        {
            string where = $"'network' in the configuration: layer {index}";
            if (init.ValueKind != System.Text.Json.JsonValueKind.String || init.GetString() is not ("dirac" or "whiten") )
                throw new UsageException($"{where} has init {init.GetRawText()}; expected \"dirac\" or \"whiten\".");
            if (!entry.TryGetProperty("type", out var type) || type.ValueKind != System.Text.Json.JsonValueKind.String || type.GetString() != "conv2d")
                throw new UsageException($"{where} has an init ({init.GetString()}), which only conv2d layers take.");
            if (init.GetString() == "whiten" && index != 0)
                throw new UsageException($"{where} has init \"whiten\", which only the first layer can take (it whitens the images themselves).");
            inits.Add((index, init.GetString()!));
        }
        return inits;
    }

    // The top-level entries of a network list that give the configuration-only key, with their index and its value.
    private static IEnumerable<(int Index, System.Text.Json.JsonElement Entry, System.Text.Json.JsonElement Value)> EntriesWith(System.Text.Json.JsonElement list, string key)
    {
        int index = 0;
        foreach (var entry in list.EnumerateArray())
        {
            if (entry.ValueKind == System.Text.Json.JsonValueKind.Object && entry.TryGetProperty(key, out var value)) yield return (index, entry, value);
            index++;
        }
    }

    /// <summary>
    /// The <c>freeze_after_epochs</c> of the top-level <c>network</c> entries that give one, by index: the layer's
    /// parameters train for that many epochs, then stay as they are (airbench trains its whitening bias for 3).
    /// </summary>
    /// <exception cref="UsageException">The value is not a whole number ≥ 0.</exception>
    internal static List<(int Index, int Epochs)> EntryFreezes(System.Text.Json.JsonElement list)
    {
        var freezes = new List<(int, int)>();
        foreach (var (index, _, epochs) in EntriesWith(list, "freeze_after_epochs"))
        {
            if (epochs.ValueKind != System.Text.Json.JsonValueKind.Number || !epochs.TryGetInt32(out int count) || count < 0)
                throw new UsageException($"'network' in the configuration: layer {index} has freeze_after_epochs {epochs.GetRawText()}; expected a whole number ≥ 0.");
            freezes.Add((index, count));
        }
        return freezes;
    }

    /// <summary>
    /// Freezes the parameters of the <c>freeze_after_epochs</c> entries from that epoch on, before each epoch starts
    /// (a resumed run included): <see cref="Layers.Parameter{T}.Frozen"/>, which every optimiser skips.
    /// </summary>
    /// <exception cref="UsageException">Such an entry is a layer without parameters.</exception>
    internal static void FreezeOnSchedule<T>(RunConfig c, Network<T> network, Trainer<T> trainer) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (c.Network is not { } list) return;
        var freezes = EntryFreezes(list);
        if (freezes.Count == 0) return;
        var scheduled = new List<(Layers.Parameter<T>[] Parameters, int Epochs)>();
        foreach (var (index, epochs) in freezes)
        {
            var layer = network.Layers[index];
            if (layer.Parameters.Count == 0)
                throw new UsageException($"'network' in the configuration: layer {index} ({layer}) has freeze_after_epochs but no parameters to freeze.");
            scheduled.Add(([.. layer.Parameters], epochs));
        }
        trainer.EpochStarting += epoch =>
        {
            foreach (var (parameters, epochs) in scheduled)
                foreach (var parameter in parameters) parameter.Frozen = epoch >= epochs;
        };
    }

    /// <summary>
    /// Sets the filters of the <c>"init": "whiten"</c> convolutions from the first (up to) 5,000 training images,
    /// normalised as the batches are but not augmented (airbench's choice); a no-op without such an entry.
    /// </summary>
    internal static void WhitenFromData<T>(RunConfig c, Network<T> network, Data.ISampleSource<T> samples, IReadOnlyList<int> trainRows) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (c.Network is not { } list) return;
        var whitened = EntryInits(list).Where(e => e.Init == "whiten").ToList();
        if (whitened.Count == 0) return;
        int count = Math.Min(5000, trainRows.Count);
        var rows = trainRows.Take(count).ToArray();
        var images = new Matrix<T>(count, samples.FeatureCount);
        samples.Gather(rows, images, new Matrix<T>(count, samples.TargetCount));
        foreach (var (index, _) in whitened)
        {
            var conv = (Layers.Conv2d<T>)network.Layers[index];
            try { Layers.ConvolutionInit.Whiten(conv, images); }
            catch (ArgumentException e) { throw new UsageException($"'network' in the configuration: layer {index}: {e.Message.Split(" (Parameter")[0]}"); }
        }
    }
}

/// <summary>A resolved run: every field of <see cref="Config"/> set, the data request it makes, and the run folder.</summary>
internal sealed record TrainSettings(RunConfig Config, DataRequest Data, string OutDir, string? ResumeFrom = null, bool Overwrite = false);

/// <summary>
/// The <c>train</c> options and how they combine with <c>--config</c> and the recipe. Each option is a
/// <see cref="RunConfig"/> field of the same name (snake_case), so option and file cannot drift apart.
/// </summary>
internal sealed class TrainCommandOptions
{
    private readonly Option<string?> _config = new("--config") { Description = "A run configuration (JSON, snake_case fields named as the options, e.g. a run folder's config.json); options given on the command line override it." };
    private readonly Option<string?> _dataset = new("--dataset")
    {
        Description = $"Dataset to train on: {Recipe.Expected} (default digits).",
        CustomParser = result => DataOptions.ParseDataset(result.Tokens.Single().Value, "--dataset", result.AddError),
    };
    private readonly DataOptions _data = new();
    private readonly Option<string?> _layers = new("--layers") { Description = "Hidden layer widths, comma-separated, e.g. 800,300 ('' for none)." };
    private readonly Option<string?> _loss = Options.Choice("--loss", "Loss: l2 (sum of squared errors) or ce (softmax cross-entropy).", ["l2", "ce"]);
    private readonly Option<double?> _lr = Options.Number<double>("--lr", "SGD learning rate (> 0).");
    private readonly Option<double?> _reg = Options.Number<double>("--reg", "L2 weight penalty factor λ in λ·ΣW² (≥ 0), applied to every linear layer.");
    private readonly Option<int?> _epochs = Options.Number<int>("--epochs", "Passes over the training set (≥ 1).");
    private readonly Option<int?> _batchSize = Options.Number<int>("--batch-size", "Samples per SGD step (≥ 1); the report used 1.");
    private readonly Option<string?> _init = new("--init") { Description = "Per linear layer, the report's weight scale w (weights w·N(0,1)), e.g. 0.001,0.0025,0.03; or an initialiser: xavier, xavier-uniform, he, he-uniform, torch (PyTorch's default, U(±1/√fan_in)). Default: He (normal) scales." };
    private readonly Option<ulong?> _seed = Options.Number<ulong>("--seed", "Seed for data generation, weights, split and shuffling (default 0).");
    private readonly Option<int?> _threads = Options.Number<int>("--threads", "Threads for the kernels (default: all cores).");
    private readonly Option<string?> _out = new("--out") { Description = "The run folder (created if missing): config.json, history.csv/.json, curves.png/.svg, model.safetensors, summary.md. Default: runs/DATASET-yyyyMMdd-HHmmss." };
    private readonly Option<string?> _dtype = Options.Choice("--dtype", "Element type (default float32).", ["float32", "float64"]);
    private readonly Option<double?> _valFraction = Options.Number<double>("--val-fraction", "Share of samples held out for validation, in (0, 1) (default 0.2).");
    private readonly Option<bool> _stratify = new("--stratify") { Description = "Split train/validation class by class, keeping class proportions." };
    private readonly Option<string?> _device = Options.Choice("--device", "Where to train: auto (a usable NVIDIA GPU, else the CPU; the default), cpu, or cuda.", DeviceChoice.Names);
    private readonly TrainingSetup _training = new();
    private readonly RecipeSetup _recipe = new();

    public void AddTo(Command command)
    {
        foreach (var option in (Option[])[_config, _dataset, _layers, _loss, _lr, _reg, _epochs, _batchSize, _init, _seed, _threads, _out, _dtype, _valFraction, _stratify, _device])
            command.Options.Add(option);
        _data.AddTo(command);
        _training.AddTo(command);
        _recipe.AddTo(command);
    }

    /// <summary>Combines the command line, the <c>--config</c> file and the recipe into a checked, fully set configuration.</summary>
    /// <exception cref="UsageException">A value is out of range, does not fit the dataset, or the file is unreadable or has unknown fields.</exception>
    public TrainSettings Resolve(ParseResult parse)
    {
        string? configPath = parse.GetValue(_config);
        string? resume = parse.GetValue(_training.Resume);
        RunConfig fromFile;
        if (resume is not null)
        {
            // The checkpoint carries the resolved configuration of the run that wrote it (config.json is written only
            // when a run ends, and a killed run has none).
            if (configPath is not null) throw new UsageException("--resume takes the configuration saved in the run's checkpoint; leave out --config.");
            configPath = Path.Combine(resume, TrainingSetup.CheckpointFile);
            if (!File.Exists(configPath))
                throw new UsageException($"--resume: '{resume}' has no {TrainingSetup.CheckpointFile}; train with --checkpoint-every N to write one.");
            fromFile = RunConfig.Parse(Checkpoint.ReadConfig(configPath) ?? throw new CheckpointFormatException($"{configPath}: the checkpoint holds no run configuration."), configPath);
        }
        else
        {
            fromFile = configPath is null ? new RunConfig() : RunConfig.Read(configPath);
        }
        var fromCommandLine = new RunConfig
        {
            Dataset = parse.GetValue(_dataset),
            DataDir = parse.GetValue(_data.DataDirectory),
            Labels = parse.GetValue(_data.Labels),
            CsvLabel = parse.GetValue(_data.CsvLabel),
            CsvHeader = parse.GetResult(_data.CsvHeader) is { Implicit: false } ? parse.GetValue(_data.CsvHeader) : null,
            Layers = parse.GetValue(_layers) is { } l ? ParseList(l, "--layers", s => int.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture), v => v > 0, "positive integers") : null,
            Loss = parse.GetValue(_loss),
            Lr = parse.GetValue(_lr),
            Reg = parse.GetValue(_reg),
            Epochs = parse.GetValue(_epochs),
            BatchSize = parse.GetValue(_batchSize),
            Init = parse.GetValue(_init) is { } i && !TrainingSetup.InitSchemes.Contains(i) ? ParseList(i, "--init", s => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture), v => v >= 0 && double.IsFinite(v), "non-negative numbers") : null,
            InitScheme = parse.GetValue(_init) is { } scheme && TrainingSetup.InitSchemes.Contains(scheme) ? scheme : null,
            Seed = parse.GetValue(_seed),
            Threads = parse.GetValue(_threads),
            Dtype = parse.GetValue(_dtype),
            ValFraction = parse.GetValue(_valFraction),
            Stratify = parse.GetValue(_stratify) ? true : null,
            Device = parse.GetValue(_device),
        };
        _training.Read(parse, fromCommandLine);
        _recipe.Read(parse, fromCommandLine);
        var given = fromFile.OverriddenBy(fromCommandLine);
        // --init on the command line replaces the file's initialisation, whichever form each takes.
        if (fromCommandLine.InitScheme is not null) given.Init = null;
        if (fromCommandLine.Init is not null) given.InitScheme = null;
        var commandLine = fromCommandLine.SetFields().ToHashSet();
        if (resume is not null)
        {
            if (commandLine.Except(["epochs", "threads", "device"]).FirstOrDefault() is { } other)
                throw new UsageException($"--resume continues the run as configured; only --epochs TOTAL, --threads and --device may be given, not {RunConfig.OptionName(other)}.");
            if (parse.GetValue(_out) is not null) throw new UsageException("--resume continues in the run's own folder; leave out --out.");
            if (parse.GetValue(_training.Overwrite)) throw new UsageException("--resume continues the run in its folder; --overwrite would start it over: give one of them.");
        }
        var settings = Resolve(given, configPath, commandLine, resume ?? parse.GetValue(_out));
        if (resume is not null)
        {
            int done = CompletedEpochs(configPath!);
            if (settings.Config.Epochs < done)
                throw new UsageException($"--epochs {settings.Config.Epochs}: the run in '{resume}' has already trained {done} epochs; give a total of at least {done}.");
            return settings with { ResumeFrom = configPath };
        }
        bool overwrite = parse.GetValue(_training.Overwrite);
        if (!overwrite && File.Exists(Path.Combine(settings.OutDir, TrainingSetup.CheckpointFile)))
            throw new UsageException($"--out '{settings.OutDir}' holds the {TrainingSetup.CheckpointFile} of an earlier run: continue it with --resume {settings.OutDir}, " +
                                     "or pass --overwrite to start over (its checkpoint is deleted, its other files replaced).");
        return settings with { Overwrite = overwrite };
    }

    /// <summary>
    /// Fills the fields <paramref name="given"/> leaves null from the dataset's recipe and checks every one.
    /// Messages name the option, or the field and file when the value came from <paramref name="configPath"/>.
    /// </summary>
    internal static TrainSettings Resolve(RunConfig given, string? configPath, IReadOnlySet<string> fromCommandLine, string? outDir)
    {
        string Name(string field) => configPath is null || fromCommandLine.Contains(field) ? RunConfig.OptionName(field) : $"'{field}' in {configPath}";
        // An --arch preset fills the architecture's fields that neither the command line nor the file sets.
        given = ArchPresets.Apply(given);

        string dataset = given.Dataset ?? "digits";
        // A file dataset is recorded by its full path, so that evaluate finds it from any folder.
        if (Recipe.IsFile(dataset)) dataset = $"{dataset[..4]}{Path.GetFullPath(dataset[4..])}";
        if (!Recipe.DatasetNames.Contains(dataset) && !Recipe.IsFile(dataset))
            throw new UsageException($"{Name("dataset")}: unknown value '{dataset}'; expected one of {Recipe.Expected}.");
        var recipe = Recipe.For(dataset);
        if (given.Network is { } list)
        {
            // The whole architecture as data: the hidden-width shorthand and what it adds around each width do not apply.
            if (list.ValueKind != System.Text.Json.JsonValueKind.Array || list.GetArrayLength() == 0)
                throw new UsageException($"{Name("network")} must be a non-empty list of layers, each an object with a \"type\" (as a model file's layers).");
            foreach (var (value, field) in new (object?, string)[] { (given.Layers, "layers"), (given.Init, "init"), (given.Activation, "activation"), (given.Dropout, "dropout") })
                if (value is not null)
                    throw new UsageException($"{Name(field)} applies to the hidden-width MLP ('layers'); with 'network' the list gives every layer itself.");
        }
        int[] hidden = given.Network is null ? given.Layers ?? recipe.HiddenLayers : [];
        if (hidden.Any(w => w <= 0))
            throw new UsageException($"{Name("layers")}: '{hidden.First(w => w <= 0)}' is not allowed; expected positive integers.");
        string loss = given.Loss ?? (recipe.Loss == Loss.L2 ? "l2" : "ce");
        Choice(loss, "loss", ["l2", "ce"]);
        string dtype = given.Dtype ?? "float32";
        Choice(dtype, "dtype", ["float32", "float64"]);
        if (given.Labels is { } labels) Choice(labels, "labels", ["fine", "coarse"]);
        if (given.CsvHeader is { } header) Choice(header, "csv_header", ["auto", "yes", "no"]);

        var data = DataOptions.Read(dataset, DatasetSplit.Train, given.DataDir is { } dir ? Path.GetFullPath(dir) : null, given.Labels, given.CsvLabel, given.CsvHeader);
        var config = new RunConfig
        {
            Dataset = dataset,
            DataDir = data.DataDirectory,
            Labels = dataset == "cifar-100" ? data.Labels.ToString().ToLowerInvariant() : null,
            CsvLabel = given.CsvLabel,
            CsvHeader = Recipe.IsFile(dataset) && dataset.StartsWith("csv:", StringComparison.Ordinal) ? given.CsvHeader ?? "auto" : null,
            Layers = given.Network is null ? hidden : null,
            Network = given.Network,
            Loss = loss,
            Lr = Positive(given.Lr ?? recipe.LearningRate, Name("lr")),
            Reg = NonNegative(given.Reg ?? recipe.Regularization, Name("reg")),
            Epochs = AtLeastOne(given.Epochs ?? recipe.Epochs, Name("epochs")),
            BatchSize = AtLeastOne(given.BatchSize ?? recipe.BatchSize, Name("batch_size")),
            // The recipe's weight scales belong to the recipe's layers; other layers get He initialisation.
            Init = given.Init ?? (given.Layers is null && given.Network is null ? recipe.Init : null),
            Seed = given.Seed ?? 0,
            Threads = AtLeastOne(given.Threads ?? MpiRun.DefaultThreads(), Name("threads")),
            Dtype = dtype,
            ValFraction = (given.ValFraction ?? 0.2) is var f && f > 0 && f < 1 ? f : throw new UsageException($"{Name("val_fraction")} must lie strictly between 0 and 1, got {f.ToString(CultureInfo.InvariantCulture)}."),
            Stratify = given.Stratify ?? false,
            Device = given.Device ?? "auto",
        };
        Choice(config.Device, "device", DeviceChoice.Names);
        TrainingSetup.Resolve(given, config, Name);
        RecipeSetup.Resolve(given, config, Name);
        if (config.Network is not null) (config.Activation, config.Dropout) = (null, null);
        if (config.InitScheme is not null)
        {
            if (given.Init is not null) throw new UsageException($"{Name("init")}: give weight scales or an initialiser ({string.Join(", ", TrainingSetup.InitSchemes)}), not both.");
            config.Init = null;
        }
        if (config.Init is { } scales)
        {
            if (scales.Length != hidden.Length + 1)
                throw new UsageException($"{Name("init")} gives {scales.Length} weight scales but the network has {hidden.Length + 1} linear layers (one per hidden width, plus the output layer).");
            if (scales.Any(v => !(v >= 0 && double.IsFinite(v))))
                throw new UsageException($"{Name("init")}: weight scales must be finite numbers ≥ 0.");
        }
        return new TrainSettings(config, data, outDir ?? RunFolder.DefaultPath(dataset, DateTime.Now));

        void Choice(string value, string field, string[] choices)
        {
            if (!choices.Contains(value)) throw new UsageException($"{Name(field)}: unknown value '{value}'; expected one of {string.Join(", ", choices)}.");
        }
    }

    // The epochs a checkpoint has completed (its next_epoch); ReadConfig has checked the file's header already.
    private static int CompletedEpochs(string checkpoint)
    {
        using var state = System.Text.Json.JsonDocument.Parse(Network<float>.ReadMetadata(checkpoint)["checkpoint"]);
        return state.RootElement.TryGetProperty("next_epoch", out var next) && next.ValueKind == System.Text.Json.JsonValueKind.Number
               && next.TryGetInt32(out int epochs) ? epochs : 0;
    }

    private static TValue[] ParseList<TValue>(string text, string option, Func<string, TValue> parse, Func<TValue, bool> valid, string expected)
    {
        if (string.IsNullOrWhiteSpace(text)) return [];
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new TValue[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            try { values[i] = parse(parts[i]); }
            catch (FormatException) { throw new UsageException($"{option}: '{parts[i]}' is not a number; expected comma-separated {expected}, e.g. {option} {Example(option)}."); }
            catch (OverflowException) { throw new UsageException($"{option}: '{parts[i]}' is out of range."); }
            if (!valid(values[i])) throw new UsageException($"{option}: '{parts[i]}' is not allowed; expected comma-separated {expected}.");
        }
        return values;
    }

    private static string Example(string option) => option == "--layers" ? "800,300" : "0.001,0.0025,0.03";

    private static int AtLeastOne(int value, string name) =>
        value >= 1 ? value : throw new UsageException($"{name} must be at least 1, got {value}.");

    private static double Positive(double value, string name) =>
        value > 0 && double.IsFinite(value) ? value : throw new UsageException($"{name} must be a finite number > 0, got {value.ToString(CultureInfo.InvariantCulture)}.");

    private static double NonNegative(double value, string name) =>
        value >= 0 && double.IsFinite(value) ? value : throw new UsageException($"{name} must be a finite number ≥ 0, got {value.ToString(CultureInfo.InvariantCulture)}.");
}
