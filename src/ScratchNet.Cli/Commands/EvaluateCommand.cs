using System.CommandLine;
using System.Globalization;
using System.Numerics;
using ScratchNet.Data;
using ScratchNet.Data.Augmentation;
using ScratchNet.Data.Catalog;
using ScratchNet.Plots;
using ScratchNet.Training;
using Spectre.Console;

namespace ScratchNet.Cli.Commands;

/// <summary>
/// <c>scratchnet evaluate --model M</c>: loss, accuracy, per-class accuracy and the confusion matrix of a
/// saved model on a dataset's test files, or on the training or validation rows of the split it was trained with.
/// </summary>
public static class EvaluateCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var model = new Option<string>("--model") { Description = "A model file written by 'train' (model.safetensors).", Required = true };
        var dataset = new Option<string?>("--dataset")
        {
            Description = $"Dataset to evaluate on: {Recipe.Expected}. Default: the one the model was trained on (recorded in the model file).",
            CustomParser = result => DataOptions.ParseDataset(result.Tokens.Single().Value, "--dataset", result.AddError),
        };
        var dataDir = new Option<string?>("--data-dir") { Description = "Folder with the dataset's official files (see train --data-dir). Default: the training run's, else the download cache." };
        var split = Options.Choice("--split", "test: the official test files (default for fashion-mnist, mnist, cifar-10/100); train or val: the rows of the run's 80/20 split " +
                                              "(seed and val_fraction from the run's config.json beside the model, else from the model file; default val for other datasets).", ["test", "train", "val"]);
        var tta = Options.Choice("--tta", "Test-time augmentation (image datasets): average the outputs over the image and its mirror (flip), and over ±1-pixel shifts too " +
                                          "(flip-translate, airbench's). Default: the run's --tta, else none.", RecipeSetup.TtaModes);
        var command = new Command("evaluate", "Loss, accuracy, per-class accuracy and confusion matrix of a saved model; writes confusion.png beside the model.")
        {
            model, dataset, dataDir, split, tta,
        };
        command.SetAction(parse =>
        {
            string modelPath = parse.GetValue(model)!;
            var run = TrainedModel.Open(modelPath);
            string datasetName = parse.GetValue(dataset) ?? run.Dataset
                ?? throw new UsageException($"{modelPath} records no dataset (it was not written by 'train'); pass --dataset.");
            bool catalog = DatasetCatalog.Find(datasetName) is not null;
            string which = parse.GetValue(split) ?? (catalog ? "test" : "val");
            // The run's settings apply when evaluating on the dataset it was trained on.
            var config = run.Config is { } c && c.Dataset == datasetName ? c : null;
            string? directory = parse.GetValue(dataDir) ?? config?.DataDir;
            var request = DataOptions.Read(datasetName, which == "test" ? DatasetSplit.Test : DatasetSplit.Train,
                directory is null ? null : Path.GetFullPath(directory), config?.Labels, config?.CsvLabel, config?.CsvHeader);
            string ttaWord = parse.GetValue(tta) ?? config?.Tta ?? "none";
            if (ttaWord != "none" && !catalog)
                throw new UsageException($"--tta applies only to the image datasets ({string.Join(", ", DatasetCatalog.All.Select(e => e.Name))}), not to '{datasetName}'.");
            return run.DType == "float64"
                ? Evaluate<double>(run, request, which, config, ttaWord, output, error)
                : Evaluate<float>(run, request, which, config, ttaWord, output, error);
        });
        return command;
    }

    private static int Evaluate<T>(TrainedModel run, DataRequest request, string split, RunConfig? config, string tta, TextWriter output, TextWriter error)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var network = Network<T>.Load(run.Path);
        ulong seed = config?.Seed ?? 0;
        var data = Memory.While($"loading {request.Dataset}", () => DataLoader.Load<T>(request, seed, error));
        // A run that normalised its images recorded the means and deviations: the model reads images normalised so.
        var normalization = RecipeSetup.RecordedNormalization(run.Config);
        if (data.Images is { } images && (normalization is not null || tta != "none"))
        {
            if (normalization is not null && normalization.Channels != images.Channels)
                throw new UsageException($"{run.Path} was trained on {normalization.Channels}-channel images normalised per channel; {request.Dataset} has {images.Channels} channels.");
            data = data with { Samples = new AugmentedImages<T>(images, null, normalization) };
        }
        var samples = data.Samples;
        if (samples.FeatureCount != network.Inputs || samples.TargetCount != network.Outputs)
            throw new UsageException($"{run.Path} takes {network.Inputs} inputs and gives {network.Outputs} outputs, but {request.Dataset} has {samples.FeatureCount} features and {samples.TargetCount} classes.");

        int[] rows;
        string rowsFrom;
        if (split == "test")
        {
            rows = [.. Enumerable.Range(0, samples.Count)];
            rowsFrom = "the official test files";
        }
        else
        {
            double fraction = config?.ValFraction ?? 0.2;
            bool stratify = config?.Stratify ?? false;
            // The trainer's own split, from the same seed: the same rows the run trained and validated on.
            var trainer = new Trainer<T>(network, samples, fraction, stratify, seed);
            rows = [.. split == "val" ? trainer.ValidationRows : trainer.TrainRows];
            rowsFrom = string.Create(CultureInfo.InvariantCulture,
                $"the {(split == "val" ? "validation" : "training")} rows of the run's split (seed {seed}, val_fraction {fraction}{(stratify ? ", stratified" : "")}; from {run.ConfigSource ?? "defaults: the model file has no run configuration"})");
        }

        var mode = RecipeSetup.TtaOf(tta);
        var (loss, accuracy) = mode == TtaMode.None ? network.Evaluate(samples, rows) : TestTimeAugmentation.Evaluate(network, (AugmentedImages<T>)samples, rows, mode);
        var confusion = mode == TtaMode.None ? Confusion(network, samples, rows) : Confusion(TestTimeAugmentation.Predict(network, (AugmentedImages<T>)samples, rows, mode), samples, rows);
        string[] names = ClassNames.For(request.Dataset, network.Outputs);

        output.WriteLine($"# model {run.Path}: network {network}");
        output.WriteLine($"# data: {data.Name} ({data.Description}); {rows.Length} samples: {rowsFrom}");
        if (mode != TtaMode.None)
            output.WriteLine($"# test-time augmentation: {tta} ({TestTimeAugmentation.Views(mode).Count} views, outputs averaged)");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"loss: {loss:F4} (penalty included)"));
        long correct = Enumerable.Range(0, names.Length).Sum(k => confusion[k, k]);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"accuracy: {accuracy:F4} ({correct}/{rows.Length})"));
        output.Flush();

        var console = Terminal.For(output);
        var perClass = new Table { Title = new TableTitle("per-class accuracy") }.AddColumns("class", "samples", "correct", "accuracy");
        perClass.Columns[1].RightAligned();
        perClass.Columns[2].RightAligned();
        perClass.Columns[3].RightAligned();
        for (int k = 0; k < names.Length; k++)
        {
            long total = Enumerable.Range(0, names.Length).Sum(p => confusion[k, p]);
            perClass.AddRow(Markup.Escape(names[k]), total.ToString(CultureInfo.InvariantCulture), confusion[k, k].ToString(CultureInfo.InvariantCulture),
                total == 0 ? "-" : ((double)confusion[k, k] / total).ToString("F4", CultureInfo.InvariantCulture));
        }
        console.Write(perClass);

        var matrix = new Table { Title = new TableTitle("confusion matrix (rows: true class, columns: predicted)") };
        matrix.AddColumn("true \\ predicted");
        foreach (string name in names) matrix.AddColumn(new TableColumn(Markup.Escape(name)).RightAligned());
        for (int t = 0; t < names.Length; t++)
            matrix.AddRow([Markup.Escape(names[t]), .. Enumerable.Range(0, names.Length).Select(p => confusion[t, p].ToString(CultureInfo.InvariantCulture))]);
        console.Write(matrix);

        string png = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(run.Path))!, "confusion.png");
        try
        {
            ConfusionMatrixPlot.Save(confusion, names, string.Create(CultureInfo.InvariantCulture, $"{request.Dataset}, {split}: accuracy {accuracy:F3} ({rows.Length} samples)"), png);
            output.WriteLine($"# wrote {png}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The metrics above are the result; a model in a read-only folder still gets them, with exit 0.
            error.WriteLine($"warning: {png} not written ({e.Message}); the metrics above are complete.");
        }
        return 0;
    }

    /// <summary>counts[true class, predicted class] over <paramref name="rows"/>, predicting in chunks.</summary>
    internal static long[,] Confusion<T>(Network<T> network, ISampleSource<T> samples, int[] rows) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const int Chunk = 1024;
        var counts = new long[network.Outputs, network.Outputs];
        var x = new Matrix<T>(0, samples.FeatureCount);
        var y = new Matrix<T>(0, samples.TargetCount);
        for (int start = 0; start < rows.Length; start += Chunk)
        {
            var chunk = rows.AsSpan(start, Math.Min(Chunk, rows.Length - start));
            samples.Gather(chunk, x, y);
            var p = network.Predict(x);                         // (chunk, outputs)
            for (int i = 0; i < chunk.Length; i++)
                counts[samples.ClassOf(chunk[i]), ArgMax(p.Span.Slice(i * p.Cols, p.Cols))]++;
        }
        return counts;
    }

    /// <summary>counts[true class, predicted class] from precomputed outputs, (rows, classes), one row per entry of <paramref name="rows"/>.</summary>
    internal static long[,] Confusion<T>(Matrix<T> outputs, ISampleSource<T> samples, int[] rows) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var counts = new long[outputs.Cols, outputs.Cols];
        for (int i = 0; i < rows.Length; i++) counts[samples.ClassOf(rows[i]), ArgMax<T>(outputs.Row(i))]++;
        return counts;
    }

    internal static int ArgMax<T>(ReadOnlySpan<T> values) where T : IFloatingPointIeee754<T>
    {
        int best = 0;
        for (int k = 1; k < values.Length; k++)
            if (values[k] > values[best]) best = k;
        return best;
    }
}

/// <summary>A model file and what <c>train</c> recorded about it: the dataset, the dtype and the run configuration.</summary>
internal sealed record TrainedModel(string Path, string? Dataset, string DType, RunConfig? Config, string? ConfigSource)
{
    /// <summary>Reads the model's metadata and the run configuration: the run folder's config.json beside it, else the copy in the model file.</summary>
    public static TrainedModel Open(string path)
    {
        if (!File.Exists(path)) throw new UsageException($"--model: '{path}' does not exist.");
        var metadata = Network<float>.ReadMetadata(path);
        string besideIt = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!, RunConfig.FileName);
        RunConfig? config = null;
        string? source = null;
        if (File.Exists(besideIt))
        {
            config = RunConfig.Read(besideIt);
            source = besideIt;
        }
        else if (metadata.TryGetValue(ModelMetadata.TrainConfig, out string? json))
        {
            config = RunConfig.Parse(json, $"{path} (__metadata__ {ModelMetadata.TrainConfig})");
            source = $"the model file's {ModelMetadata.TrainConfig}";
        }
        string? dataset = metadata.TryGetValue(ModelMetadata.Dataset, out string? name) ? name : config?.Dataset;
        return new TrainedModel(path, dataset, metadata.TryGetValue("dtype", out string? dtype) ? dtype : "float32", config, source);
    }
}
