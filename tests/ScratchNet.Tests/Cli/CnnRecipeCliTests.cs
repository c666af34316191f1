using ScratchNet.Cli;
using ScratchNet.Tests.DataFormats;
using ScratchNet.Training;
using static ScratchNet.Tests.Cli.CliRunner;

namespace ScratchNet.Tests.Cli;

/// <summary>
/// experiments/cifar10-cnn-quick.json as a user runs it, on tiny CIFAR-10 files in the official layout: the whitening
/// and Dirac initialisations, frozen weights and scaled logits train, rerun identically from config.json and reach
/// <c>evaluate</c>; a bad <c>init</c> in a layer list is one error line.
/// </summary>
[Collection(GlobalStateCollection.Name)]
public sealed class CnnRecipeCliTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string CifarFolder() => RecipeOptionsCliTests.WriteTinyCifar(_folder.Path);

    private string Out(string name) => Path.Combine(_folder.Path, name);

    [Fact]
    public void TheShippedCnnRecipeTrainsRerunsIdenticallyAndEvaluates()
    {
        string data = CifarFolder(), first = Out("cnn-first"), second = Out("cnn-second");
        string recipe = Path.Combine(RepoRoot(), "experiments", "cifar10-cnn-quick.json");
        string[] Args(string config, string outDir) =>
            ["train", "--config", config, "--data-dir", data, "--epochs", "2", "--batch-size", "18", "--threads", "1", "--out", outDir];
        var (code, output, error) = Run(Args(recipe, first));
        Assert.True(code == 0, error + output);
        Assert.Matches(@"# tta flip-translate: validation loss \d+\.\d{4}, accuracy \d\.\d{4}", output);
        var net = Network<float>.Load(Path.Combine(first, "model.safetensors"));
        Assert.Equal(new Shape(3, 32, 32), net.InputShape);
        var whitening = Assert.IsType<ScratchNet.Layers.Conv2d<float>>(net.Layers[0]);
        Assert.True(whitening.FrozenWeight);
        var w = whitening.Weight.Value.Span;
        Assert.Contains(w.ToArray(), v => v != 0);
        for (int i = 0; i < w.Length / 2; i++) Assert.Equal(-w[i], w[w.Length / 2 + i]);   // each eigenvector and its negation
        Assert.IsType<ScratchNet.Layers.Scale<float>>(net.Layers[^2]);

        (code, _, error) = Run(Args(Path.Combine(first, "config.json"), second));
        Assert.True(code == 0, error);
        Assert.Equal(File.ReadAllLines(Path.Combine(first, "history.csv")).Select(l => string.Join(',', l.Split(',')[..5])),
                     File.ReadAllLines(Path.Combine(second, "history.csv")).Select(l => string.Join(',', l.Split(',')[..5])));

        (code, output, error) = Run("evaluate", "--model", Path.Combine(first, "model.safetensors"), "--data-dir", data);
        Assert.True(code == 0, error + output);
        Assert.Contains("accuracy", output);
    }

    [Theory]
    [InlineData("""{"type": "conv2d", "in_channels": 3, "out_channels": 24, "kernel_size": [2, 2], "stride": [1, 1], "padding": [0, 0], "bias": false, "groups": 1, "init": "orthogonal"}""",
                "layer 0 has init \"orthogonal\"; expected \"dirac\" or \"whiten\"")]
    [InlineData("""{"type": "maxpool2d", "kernel_size": [2, 2], "stride": [2, 2], "padding": [0, 0], "init": "dirac"}""", "layer 0 has an init (dirac), which only conv2d layers take")]
    [InlineData("""{"type": "conv2d", "in_channels": 3, "out_channels": 16, "kernel_size": [2, 2], "stride": [1, 1], "padding": [0, 0], "bias": false, "groups": 1, "init": "whiten"}""",
                "layer 0: Whitening a 3×2×2 patch needs 24 output channels")]
    [InlineData("""{"type": "maxpool2d", "kernel_size": [2, 2], "stride": [2, 2], "padding": [0, 0]}, {"type": "conv2d", "in_channels": 3, "out_channels": 24, "kernel_size": [2, 2], "stride": [1, 1], "padding": [0, 0], "bias": false, "groups": 1, "init": "whiten"}""",
                "layer 1 has init \"whiten\", which only the first layer can take")]
    [InlineData("""{"type": "conv2d", "in_channels": 3, "out_channels": 24, "kernel_size": [2, 2], "stride": [1, 1], "padding": [0, 0], "bias": true, "groups": 1, "freeze_after_epochs": -1}""",
                "layer 0 has freeze_after_epochs -1; expected a whole number ≥ 0")]
    [InlineData("""{"type": "conv2d", "in_channels": 3, "out_channels": 24, "kernel_size": [2, 2], "stride": [1, 1], "padding": [0, 0], "bias": true, "groups": 1, "freeze_after_epochs": "3"}""",
                "layer 0 has freeze_after_epochs \"3\"; expected a whole number ≥ 0")]
    [InlineData("""{"type": "maxpool2d", "kernel_size": [2, 2], "stride": [2, 2], "padding": [0, 0], "freeze_after_epochs": 2}""", "has freeze_after_epochs but no parameters to freeze")]
    [InlineData("""{"type": "gelu", "approximate": "erf"}""", "layer 0 (gelu): 'approximate' is the string \"erf\"; expected one of \"none\", \"tanh\"")]
    public void BadLayerEntryOptionsAreOneErrorLine(string first, string message)
    {
        string list = $$"""[{{first}}, {"type": "global_avgpool2d"}, {"type": "linear", "in": {{(first.Contains("\"out_channels\": 16", StringComparison.Ordinal) ? 16 : first.Contains("\"out_channels\"", StringComparison.Ordinal) ? 24 : 3)}}, "out": 10, "regularized": false}, {"type": "softmax"}]""";
        string config = _folder.Write("init.json", System.Text.Encoding.UTF8.GetBytes($$"""{"dataset": "cifar-10", "epochs": 1, "threads": 1, "network": {{list}}}"""));
        var (code, _, error) = Run("train", "--config", config, "--data-dir", CifarFolder(), "--out", Out("init"));
        Assert.Equal(CliApp.UsageError, code);
        Assert.StartsWith("error: ", error);
        Assert.Contains(message, error);
        Assert.Single(error.Trim().Split('\n'));
    }

    // The presets are the shipped experiments' networks, so --arch and --config cannot drift apart.
    [Theory]
    [InlineData("cifar10-cnn.json", "cnn-airbench94", new[] { 64, 256, 256 }, 3)]
    [InlineData("cifar10-cnn-quick.json", "cnn-airbench-quick", new[] { 64, 128, 128 }, 1)]
    public void TheAirbenchPresetsAreTheExperimentsNetworks(string experiment, string preset, int[] widths, int whiteningBiasEpochs)
    {
        using var file = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoRoot(), "experiments", experiment)));
        static string Canonical(System.Text.Json.JsonElement e) => System.Text.Json.JsonSerializer.Serialize(e);
        Assert.Equal(Canonical(file.RootElement.GetProperty("network")), Canonical(ScratchNet.Cli.Commands.ArchPresets.Airbench(widths, whiteningBiasEpochs)));
        var applied = ScratchNet.Cli.Commands.ArchPresets.Apply(new ScratchNet.Cli.Commands.RunConfig { Arch = preset });
        Assert.Equal(file.RootElement.GetProperty("init_scheme").GetString(), applied.InitScheme);
    }

    [Fact]
    public void TheTorchInitialiserDrawsTheCnnRecipesWeightsAsPyTorchsDefaults()
    {
        // Every trained weight (the Dirac filters aside; a square convolution's are all Dirac) within PyTorch's bound
        // 1/√fan_in and reaching near it.
        using var file = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoRoot(), "experiments", "cifar10-cnn-quick.json")));
        var net = ScratchNet.Cli.Commands.TrainCommand.BuildFromList(new Network<float>(new ScratchNet.Shape(3, 32, 32), 10, ScratchNet.Losses.Loss.CrossEntropy),
            file.RootElement.GetProperty("network"), "torch", seed: 1);
        foreach (var parameter in net.Parameters.Where(p => p.Name == "weight"))
        {
            int fanIn = parameter.Shape.Size / parameter.Shape[0];
            double bound = 1 / Math.Sqrt(fanIn);
            var values = parameter.Value.Span.ToArray().Where(v => v != 0 && v != 1).ToArray();
            if (parameter.Shape.Rank == 4 && parameter.Shape[0] <= parameter.Shape[1]) { Assert.Empty(values); continue; }
            Assert.All(values, v => Assert.InRange(v, -bound, bound));
            Assert.True(values.Max() > 0.95 * bound && values.Min() < -0.95 * bound, $"{parameter.Name} {parameter.Shape}: draws should reach near ±{bound}");
        }
    }

    [Theory]
    [InlineData("cifar10-cnn.json")]
    [InlineData("cifar10-cnn-quick.json")]
    public void TheRecipesClassifierHasNoBiasAsAirbenchs(string experiment)
    {
        using var file = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoRoot(), "experiments", experiment)));
        var net = ScratchNet.Cli.Commands.TrainCommand.BuildFromList(new Network<float>(new ScratchNet.Shape(3, 32, 32), 10, ScratchNet.Losses.Loss.CrossEntropy),
            file.RootElement.GetProperty("network"), "torch", seed: 1);
        var classifier = net.Layers.OfType<ScratchNet.Layers.Linear<float>>().Single();
        Assert.Null(classifier.Bias);
        Assert.DoesNotContain(net.Parameters, p => p.Shape.Rank == 1 && p.Shape[0] == 10);
    }

    // airbench's whitening bias: zero at the start (its Conv zeroes biases), trained for the entry's epochs, then frozen.
    [Fact]
    public void AnEntrysFreezeAfterEpochsTrainsItsParametersForThatManyEpochsThenKeepsThem()
    {
        using var file = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoRoot(), "experiments", "cifar10-cnn-quick.json")));
        var list = file.RootElement.GetProperty("network");
        Assert.Equal(1, list[0].GetProperty("freeze_after_epochs").GetInt32());
        var config = new ScratchNet.Cli.Commands.RunConfig { Network = list };
        var net = ScratchNet.Cli.Commands.TrainCommand.BuildFromList(new Network<double>(new ScratchNet.Shape(3, 32, 32), 10, ScratchNet.Losses.Loss.CrossEntropy, seed: 2),
            list, "torch", seed: 1);
        net.Optimizer = new ScratchNet.Optimizers.SgdMomentum<double>(0.02, 0.85, nesterov: true, weightDecay: 1e-3);
        var whitening = (ScratchNet.Layers.Conv2d<double>)net.Layers[0];
        Assert.All(whitening.Bias!.Value.Span.ToArray(), b => Assert.Equal(0.0, b));
        var images = new ScratchNet.Data.ImageSet("test", 32, 32, 3, FormatBytes.Random(24 * 32 * 32 * 3, 5),
            [.. Enumerable.Range(0, 24).Select(i => (byte)(i % 10))], classes: 10);
        var trainer = new Trainer<double>(net, new ScratchNet.Data.Augmentation.AugmentedImages<double>(images, null, null), validationFraction: 0.25, seed: 3);
        ScratchNet.Cli.Commands.TrainCommand.FreezeOnSchedule(config, net, trainer);
        var biasAfter = new List<double[]>();
        trainer.EpochCompleted += stats => { if (stats.Epoch >= 0) biasAfter.Add(whitening.Bias.Value.Span.ToArray()); };
        trainer.Train(new TrainOptions { Epochs = 3, BatchSize = 9 });
        Assert.Contains(biasAfter[0], b => b != 0);           // epoch 0 trains it
        Assert.Equal(biasAfter[0], biasAfter[1]);            // then it stays
        Assert.Equal(biasAfter[0], biasAfter[2]);
        Assert.True(whitening.Bias.Frozen);
        Assert.DoesNotContain(net.Parameters, p => p != whitening.Bias && p.Frozen);
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !Directory.Exists(Path.Combine(dir.FullName, "experiments"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("experiments/ not found above the test binaries");
    }

    [Fact]
    public void TheBiasRateScaleReachesTheBatchNormBiasesAloneChildrensIncluded()
    {
        var net = new Network<float>(new ScratchNet.Shape(2, 4, 4), 3, ScratchNet.Losses.Loss.CrossEntropy);
        net.AddConv2d(4, 3, padding: 1);
        var outer = net.AddBatchNorm2d();
        var inner = new ScratchNet.Layers.BatchNorm2d<float>(net.CurrentShape);
        net.Add(new ScratchNet.Layers.Residual<float>(new ScratchNet.Layers.Sequential<float>(
            new ScratchNet.Layers.Conv2d<float>(net.CurrentShape, 4, 3, padding: 1), inner)));
        net.AddFlatten();
        var classifier = net.AddLinear(3);
        net.AddSoftmax();

        ScratchNet.Cli.Commands.RecipeSetup.Apply(new ScratchNet.Cli.Commands.RunConfig { BiasLrScale = 64, WeightDecay = 0.0128 }, net);

        foreach (var bias in new[] { outer.Bias!, inner.Bias! })
            Assert.Equal((64.0, 0.0002), (bias.LearningRateScale, bias.WeightDecay!.Value));
        Assert.All(net.Parameters.Where(p => p != outer.Bias && p != inner.Bias), p => Assert.Equal(1, p.LearningRateScale));
        Assert.Equal(1, classifier.Bias!.LearningRateScale);
    }
}
