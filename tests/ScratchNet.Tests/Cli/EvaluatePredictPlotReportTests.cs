using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using ScratchNet.Cli;
using ScratchNet.Cli.Commands;
using ScratchNet.Data;
using ScratchNet.Data.Catalog;
using ScratchNet.Data.Formats;
using ScratchNet.Plots;
using ScratchNet.Tests.DataFormats;
using SkiaSharp;
using static ScratchNet.Tests.Cli.CliRunner;

namespace ScratchNet.Tests.Cli;

// The CLI sets the global kernel thread count; the report test points $SCRATCHNET_DATA at an empty folder.
[Collection(GlobalStateCollection.Name)]
public sealed class EvaluatePredictPlotReportTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    // A small digits model (64 inputs = 8×8, 10 classes) in its run folder.
    private string TrainDigits(string name = "digits", string seed = "0")
    {
        string folder = Path.Combine(_temp.Path, name);
        var (exitCode, _, error) = Run("train", "--dataset", "digits", "--epochs", "2", "--layers", "32", "--threads", "1", "--seed", seed, "--out", folder);
        Assert.True(exitCode == 0, error);
        return folder;
    }

    [Fact]
    public void EvaluateReproducesTheRunsValidationStatisticsAndPrintsTheConfusionMatrix()
    {
        string run = TrainDigits();
        var final = HistoryFiles.Read(run).Final;

        var (exitCode, output, error) = Run("evaluate", "--model", Path.Combine(run, "model.safetensors"));

        Assert.True(exitCode == 0, error);
        // Without --split on a dataset with no test files: the run's own validation rows (seed and fraction from config.json).
        Assert.Contains("359 samples: the validation rows of the run's split (seed 0, val_fraction 0.2; from ", output);
        var accuracy = Regex.Match(output, @"^accuracy: (\d\.\d{4}) \((\d+)/359\)$", RegexOptions.Multiline);
        Assert.True(accuracy.Success, output);
        Assert.Equal(final.ValidationAccuracy.ToString("F4", CultureInfo.InvariantCulture), accuracy.Groups[1].Value);
        Assert.Contains($"loss: {final.ValidationLoss.ToString("F4", CultureInfo.InvariantCulture)} ", output);
        Assert.Contains("per-class accuracy", output);
        Assert.Contains("confusion matrix", output);
        Assert.DoesNotContain('\x1b', output); // not a terminal: plain tables

        // The confusion table's rows hold every sample once, and its diagonal the correct ones.
        string[] matrixRows = [.. Lines(output[output.IndexOf("confusion matrix", StringComparison.Ordinal)..]).Where(l => Regex.IsMatch(l, @"^│ \d "))];
        Assert.Equal(10, matrixRows.Length);
        long[][] counts = [.. matrixRows.Select(l => l.Split('│', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Skip(1).Select(long.Parse).ToArray())];
        Assert.Equal(359, counts.Sum(r => r.Sum()));
        Assert.Equal(long.Parse(accuracy.Groups[2].Value, CultureInfo.InvariantCulture), Enumerable.Range(0, 10).Sum(k => counts[k][k]));

        using var heatmap = SKBitmap.Decode(Path.Combine(run, "confusion.png"));
        Assert.NotNull(heatmap);
        Assert.True(heatmap.Width >= 500 && heatmap.Height >= 500);
    }

    [Fact]
    public void EvaluateUsesTheDatasetAndDataFolderRecordedByTrainAndReadsTheTestFiles()
    {
        // A tiny Fashion-MNIST under the official names: 40 training and 10 test images.
        using var data = new TempFolder();
        byte[] labels = [.. Enumerable.Range(0, 40).Select(i => (byte)(i % 10))];
        data.Write("fashion-mnist/train-images-idx3-ubyte", FormatBytes.Idx([40, 28, 28], FormatBytes.Random(40 * 784, seed: 60)));
        data.Write("fashion-mnist/train-labels-idx1-ubyte", FormatBytes.Idx([40], labels));
        data.Write("fashion-mnist/t10k-images-idx3-ubyte", FormatBytes.Idx([10, 28, 28], FormatBytes.Random(10 * 784, seed: 61)));
        data.Write("fashion-mnist/t10k-labels-idx1-ubyte", FormatBytes.Idx([10], labels[..10]));
        string run = Path.Combine(_temp.Path, "fashion");
        var train = Run("train", "--dataset", "fashion-mnist", "--data-dir", data.Path, "--layers", "16", "--epochs", "1", "--threads", "1", "--out", run);
        Assert.True(train.ExitCode == 0, train.Error);
        Assert.Equal("fashion-mnist", Network<float>.ReadMetadata(Path.Combine(run, "model.safetensors"))["dataset"]);

        var (exitCode, output, error) = Run("evaluate", "--model", Path.Combine(run, "model.safetensors"));

        Assert.True(exitCode == 0, error);
        Assert.Contains("10 samples: the official test files", output);
        Assert.Matches(@"(?m)^accuracy: \d\.\d{4} \(\d+/10\)$", output);
        Assert.Contains("T-shirt/top", output); // class names of Fashion-MNIST in the tables
    }

    [Fact]
    public void EvaluateWithoutARecordedDatasetAsksForOne()
    {
        var network = new Network<float>(64, 10, Losses.Loss.CrossEntropy);
        network.AddLinear(10);
        network.AddSoftmax();
        string model = Path.Combine(_temp.Path, "bare.safetensors");
        network.Save(model);

        var (exitCode, _, error) = Run("evaluate", "--model", model);
        var withDataset = Run("evaluate", "--model", model, "--dataset", "digits");

        Assert.Equal(CliApp.UsageError, exitCode);
        Assert.Contains("records no dataset", error);
        Assert.Single(Lines(error));
        Assert.True(withDataset.ExitCode == 0, withDataset.Error);
        Assert.Contains("from defaults: the model file has no run configuration", withDataset.Output);
    }

    [Fact]
    public void PredictGivesTheSameProbabilitiesForCsvNpyAndPngAndMatchesTheNetwork()
    {
        string run = TrainDigits();
        string model = Path.Combine(run, "model.safetensors");
        var network = Network<float>.Load(model);
        // Two digits, their pixels quantised to bytes so that a PNG holds exactly the same values.
        var digits = Digits.Load<float>();
        byte[][] pixels = [.. new[] { 0, 1 }.Select(r => Enumerable.Range(0, 64).Select(c => (byte)Math.Round(255 * digits.Features.Span[r * 64 + c])).ToArray())];
        float[] values = [.. pixels.SelectMany(p => p.Select(b => b / 255f))];

        string csv = _temp.Write("in.csv", Encoding.UTF8.GetBytes(
            string.Join(',', Enumerable.Range(0, 64).Select(c => $"p{c}")) + "\n" +
            string.Join('\n', Enumerable.Range(0, 2).Select(r => string.Join(',', values.Skip(r * 64).Take(64).Select(v => v.ToString("R", CultureInfo.InvariantCulture)))))));
        string npy = Path.Combine(_temp.Path, "in.npy");
        Npy.Write(npy, NpyArray.Of([2, 64], pixels.SelectMany(p => p).ToArray()));     // uint8: scaled by 1/255
        string png = Path.Combine(_temp.Path, "in.png");
        using (var bitmap = new SKBitmap(8, 8, SKColorType.Rgba8888, SKAlphaType.Premul))
        {
            for (int i = 0; i < 64; i++) bitmap.SetPixel(i % 8, i / 8, new SKColor(pixels[1][i], pixels[1][i], pixels[1][i]));
            using var file = File.Create(png);
            bitmap.Encode(file, SKEncodedImageFormat.Png, 100);
        }

        var fromCsv = Run("predict", "--model", model, csv);
        var fromNpy = Run("predict", "--model", model, npy);
        var fromPng = Run("predict", "--model", model, png);

        foreach (var result in new[] { fromCsv, fromNpy, fromPng }) Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("header line skipped", fromCsv.Output);
        var expected = network.Predict(new Matrix<float>(2, 64, values));
        string[] csvRows = [.. Lines(fromCsv.Output).Where(l => l.StartsWith("row ", StringComparison.Ordinal))];
        Assert.Equal(2, csvRows.Length);
        for (int r = 0; r < 2; r++)
        {
            double[] probabilities = Probabilities(csvRows[r]);
            Assert.Equal(1.0, probabilities.Sum(), 2);
            for (int k = 0; k < 10; k++) Assert.Equal(expected.Span[r * 10 + k], probabilities[k], 4);
            int best = Enumerable.Range(0, 10).MaxBy(k => expected.Span[r * 10 + k]);
            Assert.StartsWith($"row {r}: {best} ", csvRows[r]);
        }
        Assert.Equal(csvRows, Lines(fromNpy.Output).Where(l => l.StartsWith("row ", StringComparison.Ordinal)));
        string pngRow = Assert.Single(Lines(fromPng.Output), l => l.StartsWith("row ", StringComparison.Ordinal));
        Assert.Equal(Probabilities(csvRows[1]), Probabilities(pngRow), (a, b) => Math.Abs(a - b) <= 2e-4);
        Assert.Contains("image 8×8, grey", fromPng.Output);
    }

    private static double[] Probabilities(string row) =>
        [.. Regex.Matches(row[row.IndexOf('[')..], @": (\d\.\d{4})").Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))];

    [Fact]
    public void PredictResizesALargerImageAndRejectsInputsThatDoNotFit()
    {
        string model = Path.Combine(TrainDigits(), "model.safetensors");
        string png = Path.Combine(_temp.Path, "big.png");
        using (var bitmap = new SKBitmap(32, 24))
        {
            bitmap.Erase(new SKColor(200, 30, 30));
            using var file = File.Create(png);
            bitmap.Encode(file, SKEncodedImageFormat.Png, 100);
        }
        string wide = _temp.Write("wide.csv", "1,2,3\n"u8.ToArray());
        string text = _temp.Write("notes.md", "hello"u8.ToArray());

        var resized = Run("predict", "--model", model, png);
        var badCsv = Run("predict", "--model", model, wide);
        var badKind = Run("predict", "--model", model, text);

        Assert.True(resized.ExitCode == 0, resized.Error);
        Assert.Contains("image 32×24 resized to 8×8, grey", resized.Output);
        Assert.Equal(CliApp.UsageError, badCsv.ExitCode);
        Assert.Contains("line 1 has 3 values, but the model takes 64 inputs", badCsv.Error);
        Assert.Equal(CliApp.UsageError, badKind.ExitCode);
        Assert.Contains("unknown kind of file", badKind.Error);
    }

    [Fact]
    public void PlotOverlaysTwoRunsInOneNonBlankFigure()
    {
        string first = TrainDigits("first", "1"), second = TrainDigits("second", "2");
        string png = Path.Combine(_temp.Path, "figures", "both.png");

        var (exitCode, output, error) = Run("plot", first, Path.Combine(second, "history.json"), "--out", png);

        Assert.True(exitCode == 0, error);
        Assert.Contains("2 runs (first: 2 epochs, second: 2 epochs)", output);
        using var bitmap = SKBitmap.Decode(png);
        Assert.Equal((RunComparison.Width, RunComparison.Height), (bitmap.Width, bitmap.Height));
        // Each run's colour (Category10: blue, then orange) is drawn, and dark text pixels exist.
        int blue = 0, orange = 0, dark = 0;
        for (int y = 0; y < bitmap.Height; y++)
            for (int x = 0; x < bitmap.Width; x++)
            {
                var c = bitmap.GetPixel(x, y);
                if (Near(c, 0x1f, 0x77, 0xb4)) blue++;
                if (Near(c, 0xff, 0x7f, 0x0e)) orange++;
                if (c.Red < 80 && c.Green < 80 && c.Blue < 80) dark++;
            }
        Assert.True(blue > 200 && orange > 200 && dark > 500, $"blue {blue}, orange {orange}, dark {dark}");

        var svg = Run("plot", first, second, "--out", Path.Combine(_temp.Path, "both.svg"));
        Assert.True(svg.ExitCode == 0, svg.Error);
        var texts = Plots.TrainingCurvesTests.SvgTexts(File.ReadAllText(Path.Combine(_temp.Path, "both.svg")));
        Assert.Contains("first: validation accuracy", texts);
        Assert.Contains("second: train loss", texts);

        static bool Near(SKColor c, int r, int g, int b) => Math.Abs(c.Red - r) < 12 && Math.Abs(c.Green - g) < 12 && Math.Abs(c.Blue - b) < 12;
    }

    [Fact]
    public void PlotOfAFolderWithoutHistoryIsAUsageError()
    {
        var (exitCode, _, error) = Run("plot", _temp.Path);

        Assert.Equal(CliApp.UsageError, exitCode);
        Assert.Contains("neither a run folder", error);
    }

    [Fact]
    public void QuickReportRunsTheToyExperimentAndSkipsTheImageSetsWithoutData()
    {
        using var emptyCache = new TempFolder();
        string folder = Path.Combine(_temp.Path, "report");
        string? previous = Environment.GetEnvironmentVariable(DataCache.FolderVariable);
        (int ExitCode, string Output, string Error) result;
        try
        {
            Environment.SetEnvironmentVariable(DataCache.FolderVariable, emptyCache.Path);
            result = Run("report", "--quick", "--threads", "1", "--out", folder);
        }
        finally
        {
            Environment.SetEnvironmentVariable(DataCache.FolderVariable, previous);
        }

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("# skipped fashion-mnist: ", result.Output);
        Assert.Contains("'scratchnet data download fashion-mnist'", result.Output);
        Assert.Contains("# skipped cifar-10: ", result.Output);
        Assert.Equal(3, Lines(result.Output).Count(l => l.StartsWith("E: ", StringComparison.Ordinal))); // linear: E: -1, 0, 1
        string report = File.ReadAllText(Path.Combine(folder, "report.md"));
        // The linear toy's last printed epoch, unrounded (its Statistics block says 0.003, 0.999, 0.003, 0.999).
        Assert.Contains("| linear | report | 10 | 0.0032 | 0.9989 | 0.0026 | 0.9985 | — | — | — |", report);
        Assert.Contains("| fashion-mnist | report | 50 | 0.1840 | 0.9370 | 0.3410 | 0.8830 | — |", report);
        Assert.Contains("| cifar-10 | report | 50 | 1.1400 | 0.5860 | 1.4300 | 0.4950 | — | 37.6 min (GPU) |", report);
        var linear = HistoryFiles.Read(Path.Combine(folder, "linear")).Final;
        double penalty = Network<double>.Load(Path.Combine(folder, "linear", "model.safetensors")).RegularizationPenalty();
        Assert.InRange(penalty, 0.01, 0.1); // 0.01·ΣW², ΣW² heading for ~4.4 (2 of 10 epochs here)
        static string F4(double value) => value.ToString("F4", CultureInfo.InvariantCulture);
        Assert.Contains($"| **{F4(linear.ValidationAccuracy)}** | {F4(penalty)} |", report);
        Assert.Contains($"Final losses without the penalty λ·ΣW² = {F4(penalty)}, as the report prints them: " +
                        $"train {F4(linear.TrainLoss - penalty)}, validation {F4(linear.ValidationLoss - penalty)}.", report);
        Assert.Contains("![linear: loss and accuracy per epoch](linear/curves.png)", report);
        Assert.True(File.Exists(Path.Combine(folder, "linear", "curves.png")));
        var config = RunConfig.Read(Path.Combine(folder, "linear", "config.json"));
        Assert.Equal((0.01, 0.001, 1, "l2"), (config.Reg, config.Lr, config.BatchSize, config.Loss));
        Assert.Equal([0.05, 0.05], config.Init!);
    }
}
