using System.CommandLine;
using System.Globalization;
using System.Numerics;
using ScratchNet.Compute;
using ScratchNet.Data.Catalog;
using ScratchNet.Losses;
using ScratchNet.Plots;
using ScratchNet.Training;

namespace ScratchNet.Cli.Commands;

/// <summary>
/// <c>scratchnet train</c>: builds an MLP, trains it with the report's client loop and prints the
/// report's epoch lines. Options left out come from the dataset's <see cref="Recipe"/>.
/// </summary>
public static class TrainCommand
{
    /// <summary>Creates the command; it writes epoch lines to <paramref name="output"/> and warnings to <paramref name="error"/>.</summary>
    public static Command Create(TextWriter output, TextWriter error)
    {
        var dataset = DataOptions.DatasetOption("digits");
        var data = new DataOptions();
        var layers = new Option<string?>("--layers") { Description = "Hidden layer widths, comma-separated, e.g. 800,300 ('' for none)." };
        var loss = Options.Choice("--loss", "Loss: l2 (sum of squared errors) or ce (softmax cross-entropy).", ["l2", "ce"]);
        var learningRate = Options.Number<double>("--lr", "SGD learning rate (> 0).");
        var regularization = Options.Number<double>("--reg", "L2 weight penalty factor λ in λ·ΣW² (≥ 0), applied to every linear layer.");
        var epochs = Options.Number<int>("--epochs", "Passes over the training set (≥ 1).");
        var batchSize = Options.Number<int>("--batch-size", "Samples per SGD step (≥ 1); the report used 1.");
        var init = new Option<string?>("--init") { Description = "Per linear layer, the report's weight scale w (weights w·N(0,1)), e.g. 0.001,0.0025,0.03. Default: He initialisation." };
        var seed = Options.Number<ulong>("--seed", "Seed for data generation, weights, split and shuffling (default 0).");
        var threads = Options.Number<int>("--threads", "Threads for the kernels (default: all cores).");
        var outDir = new Option<string?>("--out") { Description = "Folder for history.csv, model.safetensors and curves.png/.svg (created if missing)." };
        var dtype = Options.Choice("--dtype", "Element type.", ["float32", "float64"], "float32");
        var validationFraction = Options.Number<double>("--val-fraction", "Share of samples held out for validation, in (0, 1) (default 0.2).");
        var stratify = new Option<bool>("--stratify") { Description = "Split train/validation class by class, keeping class proportions." };

        var command = new Command("train", "Train an MLP and print the report's per-epoch lines (E: n  tL  tA  vL  vA  s). Options left out take the dataset's recipe (see README).")
        {
            dataset, layers, loss, learningRate, regularization, epochs, batchSize, init, seed, threads, outDir, dtype, validationFraction, stratify,
        };
        data.AddTo(command);
        command.SetAction(parse =>
        {
            string datasetName = parse.GetValue(dataset)!;
            var recipe = Recipe.For(datasetName);
            var settings = new TrainSettings(
                recipe,
                // The official training files; they are split 80/20 into training and validation, as in the report.
                data.Read(parse, datasetName, DatasetSplit.Train),
                Hidden: parse.GetValue(layers) is { } l ? ParseList(l, "--layers", int.Parse, v => v > 0, "positive integers") : recipe.HiddenLayers,
                Loss: parse.GetValue(loss) is { } name ? (name == "l2" ? Loss.L2 : Loss.CrossEntropy) : recipe.Loss,
                LearningRate: Positive(parse.GetValue(learningRate) ?? recipe.LearningRate, "--lr"),
                Regularization: NonNegative(parse.GetValue(regularization) ?? recipe.Regularization, "--reg"),
                Epochs: AtLeastOne(parse.GetValue(epochs) ?? recipe.Epochs, "--epochs"),
                BatchSize: AtLeastOne(parse.GetValue(batchSize) ?? recipe.BatchSize, "--batch-size"),
                Init: parse.GetValue(init) is { } i ? ParseList(i, "--init", s => double.Parse(s, CultureInfo.InvariantCulture), v => v >= 0 && double.IsFinite(v), "non-negative numbers") : recipe.Init,
                Seed: parse.GetValue(seed) ?? 0,
                Threads: parse.GetValue(threads) is { } t ? AtLeastOne(t, "--threads") : Environment.ProcessorCount,
                OutDir: parse.GetValue(outDir),
                ValidationFraction: (parse.GetValue(validationFraction) ?? 0.2) is var f && f > 0 && f < 1 ? f : throw new UsageException($"--val-fraction must lie strictly between 0 and 1, got {f}."),
                Stratify: parse.GetValue(stratify));
            if (settings.Init is { } scales && scales.Length != settings.Hidden.Length + 1)
                throw new UsageException($"--init gives {scales.Length} weight scales but the network has {settings.Hidden.Length + 1} linear layers (one per hidden width, plus the output layer).");
            return parse.GetValue(dtype) == "float64" ? Train<double>(settings, output, error) : Train<float>(settings, output, error);
        });
        return command;
    }

    private sealed record TrainSettings(
        Recipe Recipe, DataRequest Data, int[] Hidden, Loss Loss, double LearningRate, double Regularization, int Epochs, int BatchSize,
        double[]? Init, ulong Seed, int Threads, string? OutDir, double ValidationFraction, bool Stratify);

    private static int Train<T>(TrainSettings s, TextWriter output, TextWriter error) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int previousThreads = Threading.ThreadCount;
        Threading.ThreadCount = s.Threads;
        try
        {
            var data = DataLoader.Load<T>(s.Data, s.Seed, error);
            var samples = data.Samples;
            var network = new Network<T>(samples.FeatureCount, samples.TargetCount, s.Loss, s.Regularization, s.LearningRate, s.Seed);
            int[] widths = [.. s.Hidden, samples.TargetCount];
            for (int k = 0; k < widths.Length; k++)
            {
                // Without --init: He initialisation, whose scale suits the ReLU after each hidden layer.
                double scale = s.Init?[k] ?? Network<T>.HeScale(network.CurrentWidth);
                network.AddLinear(widths[k], w: scale, regularization: s.Regularization > 0);
                if (k < widths.Length - 1) network.AddRelu();
            }
            if (s.Loss == Loss.CrossEntropy) network.AddSoftmax();
            network.Build();
            foreach (string warning in network.Warnings) error.WriteLine($"warning: {warning}");

            var trainer = new Trainer<T>(network, samples, s.ValidationFraction, s.Stratify, s.Seed) { Output = output };
            if (data.Images is { } images)
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"# {images}; pixels held as bytes: {images.ByteSize / 1e6:F1} MB ({images.Pixels.LongLength * (typeof(T) == typeof(float) ? 4 : 8) / 1e6:F1} MB as {DType<T>()})"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"# {data.Name}: {data.Description}; {trainer.TrainRows.Count} train, {trainer.ValidationRows.Count} validation; network {network}; " +
                $"lr {s.LearningRate}, reg {s.Regularization}, batch {s.BatchSize}, {s.Epochs} epochs, {DType<T>()}, seed {s.Seed}, {s.Threads} threads"));

            var history = trainer.Train(s.Epochs, s.BatchSize, verbose: true);
            var final = history.Final;
            double seconds = history.Skip(1).Sum(e => e.Seconds);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"# final: train loss {final.TrainLoss:F4}, accuracy {final.TrainAccuracy:F4}; validation loss {final.ValidationLoss:F4}, accuracy {final.ValidationAccuracy:F4}; " +
                $"{seconds:F1} s, {(double)trainer.TrainRows.Count * s.Epochs / seconds:F0} samples/s"));
            if (s.OutDir is { } dir)
            {
                Directory.CreateDirectory(dir);
                string path = Path.Combine(dir, "history.csv");
                history.WriteCsv(path);
                output.WriteLine($"# wrote {path}");
                string model = Path.Combine(dir, "model.safetensors");
                network.Save(model);
                output.WriteLine($"# wrote {model}");
                string png = Path.Combine(dir, "curves.png"), svg = Path.Combine(dir, "curves.svg");
                TrainingCurves.Save(history, $"{data.Name}: network {network}", png, svg);
                output.WriteLine($"# wrote {png} and {svg}");
            }
            return 0;
        }
        finally
        {
            Threading.ThreadCount = previousThreads;
        }
    }

    private static string DType<T>() => typeof(T) == typeof(float) ? "float32" : "float64";

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

    private static int AtLeastOne(int value, string option) =>
        value >= 1 ? value : throw new UsageException($"{option} must be at least 1, got {value}.");

    private static double Positive(double value, string option) =>
        value > 0 && double.IsFinite(value) ? value : throw new UsageException($"{option} must be a finite number > 0, got {value.ToString(CultureInfo.InvariantCulture)}.");

    private static double NonNegative(double value, string option) =>
        value >= 0 && double.IsFinite(value) ? value : throw new UsageException($"{option} must be a finite number ≥ 0, got {value.ToString(CultureInfo.InvariantCulture)}.");
}
