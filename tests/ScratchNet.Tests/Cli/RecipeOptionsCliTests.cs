using System.Globalization;
using System.Text.Json;
using ScratchNet.Cli;
using ScratchNet.Data.Formats;
using ScratchNet.Tests.DataFormats;
using static ScratchNet.Tests.Cli.CliRunner;

namespace ScratchNet.Tests.Cli;

/// <summary>
/// <c>train</c>'s recipe options on tiny CIFAR-10 files written in the official binary layout: augmentation,
/// normalisation, test-time augmentation, label smoothing, SGD's weight decay, bias rate scale, per-step schedules,
/// weight averaging and --arch presets land in config.json, rerun identically, reach <c>evaluate</c>; bad values are
/// one error line.
/// </summary>
[Collection(GlobalStateCollection.Name)]
public sealed class RecipeOptionsCliTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    // Five training batches of 24 images and a test batch of 30; class k's images are brighter in channel k % 3, so a
    // small MLP learns something.
    private string CifarFolder() => WriteTinyCifar(_folder.Path);

    /// <summary>Writes the tiny CIFAR-10 files under <paramref name="root"/>/cifar and returns that folder.</summary>
    internal static string WriteTinyCifar(string root)
    {
        string dir = Path.Combine(root, "cifar");
        Directory.CreateDirectory(dir);
        var random = new Random(5);
        void Batch(string name, int count)
        {
            var pixels = new byte[count * Cifar.ImageBytes];
            var labels = new byte[count];
            for (int i = 0; i < count; i++)
            {
                labels[i] = (byte)random.Next(10);
                for (int j = 0; j < Cifar.ImageBytes; j++)
                    pixels[i * Cifar.ImageBytes + j] = (byte)(random.Next(120) + (j / 1024 == labels[i] % 3 ? 100 + 10 * (labels[i] / 3) : 0));
            }
            Cifar.Write(Path.Combine(dir, name), pixels, labels);
        }
        for (int b = 1; b <= 5; b++) Batch($"data_batch_{b}.bin", 24);
        Batch("test_batch.bin", 30);
        return dir;
    }

    private string Out(string name) => Path.Combine(_folder.Path, name);

    private static string[] Recipe(string data, string outDir) =>
    [
        "train", "--dataset", "cifar-10", "--data-dir", data, "--layers", "16", "--epochs", "3", "--batch-size", "16", "--threads", "1", "--out", outDir,
        "--crop-padding", "2", "--flip", "alternating", "--cutout", "4", "--normalize", "channels", "--tta", "flip-translate", "--label-smoothing", "0.2",
        "--optimizer", "nesterov", "--momentum", "0.85", "--weight-decay", "5e-4", "--bias-lr-scale", "64", "--lr", "0.01",
        "--schedule", "triangular", "--ema", "0.9", "--ema-every", "2", "--ema-power", "3", "--ema-start-epoch", "1", "--lookahead", "--test",
    ];

    [Fact]
    public void TheRecipeOptionsTrainLandInConfigJsonAndRerunIdentically()
    {
        string data = CifarFolder(), first = Out("first"), second = Out("second");
        var (code, output, error) = Run(Recipe(data, first));
        Assert.True(code == 0, error + output);
        Assert.Matches(@"# tta flip-translate: validation loss \d+\.\d{4}, accuracy \d\.\d{4}; test loss \d+\.\d{4}, accuracy \d\.\d{4}", output);

        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(first, "config.json")));
        var root = config.RootElement;
        Assert.Equal(2, root.GetProperty("crop_padding").GetInt32());
        Assert.Equal("alternating", root.GetProperty("flip").GetString());
        Assert.Equal(4, root.GetProperty("cutout").GetInt32());
        Assert.Equal("channels", root.GetProperty("normalize").GetString());
        Assert.Equal(3, root.GetProperty("norm_mean").GetArrayLength());   // measured on the training files, recorded
        Assert.Equal(3, root.GetProperty("norm_std").GetArrayLength());
        Assert.Equal("flip-translate", root.GetProperty("tta").GetString());
        Assert.Equal(0.2, root.GetProperty("label_smoothing").GetDouble());
        Assert.Equal(5e-4, root.GetProperty("weight_decay").GetDouble());
        Assert.Equal("coupled", root.GetProperty("weight_decay_mode").GetString());
        Assert.Equal(64, root.GetProperty("bias_lr_scale").GetDouble());
        Assert.Equal("triangular", root.GetProperty("schedule").GetString());
        Assert.Equal(0.2, root.GetProperty("peak_fraction").GetDouble());
        Assert.Equal(0.2, root.GetProperty("start_factor").GetDouble());
        Assert.Equal(0, root.GetProperty("end_factor").GetDouble());
        Assert.Equal(0.9, root.GetProperty("ema").GetDouble());
        Assert.Equal(2, root.GetProperty("ema_every").GetInt32());
        Assert.Equal(3, root.GetProperty("ema_power").GetDouble());
        Assert.Equal(1, root.GetProperty("ema_start_epoch").GetInt32());
        Assert.True(root.GetProperty("lookahead").GetBoolean());
        Assert.Contains("# device: cpu", output);

        // The same run from its config.json: the same batches, the same history and weights.
        (code, var rerun, error) = Run("train", "--config", Path.Combine(first, "config.json"), "--out", second);
        Assert.True(code == 0, error);
        Assert.Equal(WithoutSeconds(Path.Combine(first, "history.csv")), WithoutSeconds(Path.Combine(second, "history.csv")));
        Assert.Equal(output.Split('\n').Single(l => l.StartsWith("# tta", StringComparison.Ordinal)), rerun.Split('\n').Single(l => l.StartsWith("# tta", StringComparison.Ordinal)));
        Assert.Equal(File.ReadAllText(Path.Combine(first, "config.json")), File.ReadAllText(Path.Combine(second, "config.json")));

        // evaluate normalises as the run did and takes its --tta by default.
        (code, var evaluated, error) = Run("evaluate", "--model", Path.Combine(first, "model.safetensors"), "--tta", "none");
        Assert.True(code == 0, error);
        Assert.DoesNotContain("test-time augmentation", evaluated);
        double testAccuracy = double.Parse(File.ReadAllLines(Path.Combine(first, "history.csv"))[^1].Split(',')[^1], CultureInfo.InvariantCulture);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"accuracy: {testAccuracy:F4} "), evaluated);
        (code, evaluated, error) = Run("evaluate", "--model", Path.Combine(first, "model.safetensors"));
        Assert.True(code == 0, error);
        Assert.Contains("# test-time augmentation: flip-translate (6 views, outputs averaged)", evaluated);
        string ttaTest = output.Split('\n').Single(l => l.StartsWith("# tta", StringComparison.Ordinal)).Split("test ")[1];   // "loss L, accuracy A"
        Assert.Contains("accuracy: " + ttaTest.Split("accuracy ")[1].Trim(), evaluated);
    }

    private static string[] WithoutSeconds(string csv) => [.. File.ReadAllLines(csv).Select(l => string.Join(',', l.Split(',').Where((_, i) => i != 5)))];

    [Fact]
    public void ArchPresetsFillTheArchitectureAndOptionsOverrideThem()
    {
        string dir = Out("arch");
        var (code, _, error) = Run("train", "--dataset", "patterns", "--epochs", "1", "--threads", "1", "--out", dir, "--arch", "mlp-128-64");
        Assert.True(code == 0, error);
        using (var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "config.json"))))
        {
            Assert.Equal("mlp-128-64", config.RootElement.GetProperty("arch").GetString());
            Assert.Equal([128, 64], config.RootElement.GetProperty("layers").EnumerateArray().Select(e => e.GetInt32()));
            Assert.Equal("he", config.RootElement.GetProperty("init_scheme").GetString());
        }
        (code, _, error) = Run("train", "--dataset", "patterns", "--epochs", "1", "--threads", "1", "--out", dir, "--arch", "mlp-1024-512-dropout", "--layers", "12", "--dropout", "0.5");
        Assert.True(code == 0, error);
        using (var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "config.json"))))
        {
            Assert.Equal([12], config.RootElement.GetProperty("layers").EnumerateArray().Select(e => e.GetInt32()));
            Assert.Equal(0.5, config.RootElement.GetProperty("dropout").GetDouble());
        }
    }

    [Theory]
    [InlineData("--dataset digits --crop-padding 2", "--crop-padding applies only to the image datasets")]
    [InlineData("--dataset digits --tta flip", "--tta applies only to the image datasets")]
    [InlineData("--dataset cifar-10 --crop-padding 32", "--crop-padding must be in [0, 31]")]
    [InlineData("--dataset cifar-10 --cutout -1", "--cutout must be in [0, 32]")]
    [InlineData("--dataset cifar-10 --flip sideways", "--flip: unknown value 'sideways'")]
    [InlineData("--dataset cifar-10 --norm-mean 0.5,0.5,0.5", "--norm-mean applies only with --normalize channels")]
    [InlineData("--dataset cifar-10 --normalize channels --norm-mean 0.5,0.5,0.5", "--norm-std is missing: give it with --norm-mean")]
    [InlineData("--dataset cifar-10 --normalize channels --norm-mean 0.5 --norm-std 0.2", "--norm-mean gives 1 means; the images have 3 channels")]
    [InlineData("--dataset cifar-10 --normalize channels --norm-mean 0.5,x,1 --norm-std 0.2,0.2,0.2", "--norm-mean: 'x' is not a number")]
    [InlineData("--label-smoothing 1", "--label-smoothing must be in [0, 1)")]
    [InlineData("--label-smoothing 0.1 --loss l2", "--label-smoothing applies only with --loss ce")]
    [InlineData("--optimizer adam --weight-decay 0.1", "--weight-decay applies only with --optimizer momentum, nesterov or adamw")]
    [InlineData("--optimizer nesterov --weight-decay-mode decoupled", "--weight-decay-mode applies only with --optimizer momentum or nesterov and --weight-decay")]
    [InlineData("--bias-lr-scale 0", "--bias-lr-scale must be a finite number > 0")]
    [InlineData("--peak-fraction 0.3", "--peak-fraction applies only with --schedule triangular or one-cycle")]
    [InlineData("--schedule one-cycle --peak-fraction 1", "--peak-fraction must be in (0, 1) for one-cycle")]
    [InlineData("--schedule one-cycle --end-factor 0", "--end-factor must be in (0, start_factor] for one-cycle")]
    [InlineData("--schedule triangular --start-factor 0", "--start-factor must be in (0, 1]")]
    [InlineData("--ema 1", "--ema must be in [0, 1)")]
    [InlineData("--ema-every 2", "--ema-every applies only with --ema")]
    [InlineData("--lookahead", "--lookahead applies only with --ema")]
    [InlineData("--ema-start-epoch 1", "--ema-start-epoch applies only with --ema")]
    [InlineData("--ema 0.9 --ema-start-epoch 1", "--ema-start-epoch must be at least 0 and below epochs")]
    [InlineData("--ema 0.9 --ema-start-epoch -1", "--ema-start-epoch must be at least 0 and below epochs")]
    [InlineData("--ema 0.9 --checkpoint-every 1", "--ema does not combine with --checkpoint-every")]
    [InlineData("--ema 0.9 --early-stopping 2", "--ema does not combine with --early-stopping")]
    [InlineData("--arch resnet-1000", "--arch: unknown value 'resnet-1000'")]
    public void BadRecipeSettingsAreOneErrorLine(string options, string message)
    {
        string[] args = ["train", "--epochs", "1", "--out", Out("bad"), .. options.Split(' ')];
        if (!options.Contains("--dataset", StringComparison.Ordinal)) args = [.. args, "--dataset", "digits"];
        if (options.Contains("cifar-10", StringComparison.Ordinal)) args = [.. args, "--data-dir", _folder.Path];
        var (code, _, error) = Run(args);
        Assert.Equal(CliApp.UsageError, code);
        Assert.StartsWith("error: ", error);
        Assert.Contains(message, error);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Theory]
    [InlineData("{\"dataset\": \"cifar-10\", \"flip\": 3}", "field 'flip' is not valid")]
    [InlineData("{\"dataset\": \"cifar-10\", \"tta\": \"rotate\"}", "'tta' in")]
    [InlineData("{\"dataset\": \"digits\", \"ema\": 0.5, \"lookahed\": true}", "unknown field 'lookahed'")]
    [InlineData("{\"dataset\": \"digits\", \"arch\": \"vgg\"}", "'arch' in")]
    public void BadRecipeFieldsInAConfigFileNameTheField(string json, string message)
    {
        string path = _folder.Write("bad.json", System.Text.Encoding.UTF8.GetBytes(json));
        string[] args = ["train", "--config", path, "--epochs", "1", "--out", Out("bad")];
        var (code, _, error) = Run(json.Contains("cifar-10", StringComparison.Ordinal) ? [.. args, "--data-dir", _folder.Path] : args);
        Assert.Equal(CliApp.UsageError, code);
        Assert.Contains(message, error);
        Assert.Single(error.Trim().Split('\n'));
    }
}

/// <summary>An architecture as data: a <c>network</c> list of layer entries in a run configuration, read through the layer registry.</summary>
[Collection(GlobalStateCollection.Name)]
public sealed class NetworkListCliTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private const string Mlp = """
        [{"type": "linear", "in": 64, "out": 32, "regularized": false}, {"type": "batchnorm1d", "features": 32, "momentum": 0.1, "eps": 1e-5},
         {"type": "gelu"}, {"type": "dropout", "rate": 0.1}, {"type": "linear", "in": 32, "out": 10, "regularized": true}, {"type": "softmax"}]
        """;

    [Fact]
    public void ANetworkListTrainsSavesAndReruns()
    {
        string config = _folder.Write("net.json", System.Text.Encoding.UTF8.GetBytes($$"""{"dataset": "digits", "epochs": 3, "batch_size": 16, "threads": 1, "network": {{Mlp}}}"""));
        string first = Path.Combine(_folder.Path, "first"), second = Path.Combine(_folder.Path, "second");
        var (code, output, error) = Run("train", "--config", config, "--out", first);
        Assert.True(code == 0, error + output);
        var net = Network<float>.Load(Path.Combine(first, "model.safetensors"));
        Assert.Equal("64-32-10 linear batchnorm1d gelu dropout linear softmax, ce", net.ToString());
        Assert.True(double.Parse(File.ReadAllLines(Path.Combine(first, "history.csv"))[^1].Split(',')[4], CultureInfo.InvariantCulture) > 0.5);
        using (var written = JsonDocument.Parse(File.ReadAllText(Path.Combine(first, "config.json"))))
        {
            Assert.Equal(6, written.RootElement.GetProperty("network").GetArrayLength());
            Assert.False(written.RootElement.TryGetProperty("layers", out _));
            Assert.False(written.RootElement.TryGetProperty("activation", out _));
        }
        (code, _, error) = Run("train", "--config", Path.Combine(first, "config.json"), "--out", second);
        Assert.True(code == 0, error);
        Assert.Equal(File.ReadAllLines(Path.Combine(first, "history.csv")).Select(l => string.Join(',', l.Split(',')[..5])),
                     File.ReadAllLines(Path.Combine(second, "history.csv")).Select(l => string.Join(',', l.Split(',')[..5])));
    }

    [Theory]
    [InlineData("""[{"type": "linear", "in": 64, "out": 10, "regularized": false}, {"type": "conv9d"}]""", "layer 1 (conv9d) has unknown type 'conv9d'")]
    [InlineData("""[{"type": "linear", "in": 60, "out": 10, "regularized": false}, {"type": "softmax"}]""", "layer 0 (linear) reads 60 features but follows a width of 64")]
    [InlineData("""[{"type": "linear", "in": 64, "out": 12, "regularized": false}, {"type": "softmax"}]""", "outputs 12 features but the network declares 10 outputs")]
    [InlineData("""[{"type": "linear", "in": 64, "out": 10}]""", "regularized")]
    [InlineData("""[]""", "must be a non-empty list of layers")]
    [InlineData("""{"type": "relu"}""", "must be a non-empty list of layers")]
    public void BadListsAreOneErrorLine(string list, string message)
    {
        string config = _folder.Write("bad.json", System.Text.Encoding.UTF8.GetBytes($$"""{"dataset": "digits", "epochs": 1, "threads": 1, "network": {{list}}}"""));
        var (code, _, error) = Run("train", "--config", config, "--out", Path.Combine(_folder.Path, "bad"));
        Assert.NotEqual(0, code);
        Assert.StartsWith("error: ", error);
        Assert.Contains(message, error);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Fact]
    public void HiddenWidthSettingsBesideAListAreRefused()
    {
        string config = _folder.Write("both.json", System.Text.Encoding.UTF8.GetBytes($$"""{"dataset": "digits", "network": {{Mlp}}}"""));
        var (code, _, error) = Run("train", "--config", config, "--layers", "8", "--out", Path.Combine(_folder.Path, "both"));
        Assert.Equal(CliApp.UsageError, code);
        Assert.Contains("--layers applies to the hidden-width MLP", error);
    }

    [Fact]
    public void ALayerListPresetBuildsItsNetwork()
    {
        var (code, output, error) = Run("train", "--dataset", "digits", "--arch", "cifar-mlp-bn", "--epochs", "1", "--out", Path.Combine(_folder.Path, "preset"));
        // The preset is CIFAR's: on the digits' 64 inputs its first layer does not fit, and says so.
        Assert.Equal(CliApp.UsageError, code);
        Assert.Contains("layer 0 (linear) reads 3072 features but follows a width of 64", error + output);
    }
}
