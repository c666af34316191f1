using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using System.Text.Json;
using ScratchNet.Data;
using ScratchNet.Data.Formats;
using ScratchNet.Layers;
using ScratchNet.Losses;
using ScratchNet.Optimizers;
using ScratchNet.Tests.DataFormats;
using ScratchNet.Tests.Training;
using ScratchNet.Training;
using static ScratchNet.Tests.Cli.CliRunner;

namespace ScratchNet.Tests.Compat;

/// <summary>
/// Writes the files in Compat/Fixtures (see the README there) with the code as it is: model files with a fixed
/// input batch and its <c>Predict</c> output, checkpoints with the uninterrupted run they must resume to, and a
/// model written by <c>scratchnet train</c> with what <c>evaluate</c> and <c>predict</c> printed for it. The
/// fixtures freeze today's formats, so this runs only when asked: <c>SCRATCHNET_WRITE_COMPAT_FIXTURES=FOLDER</c>.
/// </summary>
[Collection(GlobalStateCollection.Name)]   // the CLI sets the global thread count
public class CompatFixtureWriter
{
    public const string Variable = "SCRATCHNET_WRITE_COMPAT_FIXTURES";

    /// <summary>The checkpoint setups of <see cref="CheckpointTests"/> frozen here, each with the batch of epoch 1 (the second: epochs count from 0) after which its mid-epoch checkpoint is taken.</summary>
    public static readonly (CheckpointTests.Setup Setup, int CancelAfterBatch)[] Checkpoints = [(CheckpointTests.Setup.SgdBatch1, 300), (CheckpointTests.Setup.Sgd, 7), (CheckpointTests.Setup.Adam, 5)];

    /// <summary>Rows of the embedded digits fed to every model: (6, 64).</summary>
    public static Matrix<T> Input<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        var digits = Digits.Load<T>();
        return new Matrix<T>(6, Digits.Features, digits.Features.Span[..(6 * Digits.Features)]);
    }

    /// <summary>A float32 or float64 tensor as an NPY array of the same shape, bit for bit.</summary>
    public static NpyArray ToNpy<T>(Matrix<T> tensor) where T : unmanaged, IFloatingPointIeee754<T> =>
        typeof(T) == typeof(float)
            ? NpyArray.Of([tensor.Rows, tensor.Cols], MemoryMarshal.Cast<T, float>(tensor.Span))
            : NpyArray.Of([tensor.Rows, tensor.Cols], MemoryMarshal.Cast<T, double>(tensor.Span));

    /// <summary>
    /// The SIMD paths this process can dispatch to. The kernels sum in an order that depends on them, so results are
    /// bit-identical only between machines (and <c>DOTNET_Enable*</c> settings) that agree on this string.
    /// </summary>
    public static string InstructionSets() => string.Join(' ', new (string Name, bool On)[]
    {
        ("avx512f", Avx512F.IsSupported), ("avx2", Avx2.IsSupported), ("fma", Fma.IsSupported), ("avx", Avx.IsSupported), ("advsimd", AdvSimd.IsSupported),
        ("vector512", Vector512.IsHardwareAccelerated), ("vector256", Vector256.IsHardwareAccelerated), ("vector128", Vector128.IsHardwareAccelerated),
    }.Where(f => f.On).Select(f => f.Name).Prepend(RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant()));

    [WritesFixturesFact]
    public void WriteFixtures()
    {
        string folder = Directory.CreateDirectory(Environment.GetEnvironmentVariable(Variable)!).FullName;
        var models = new Dictionary<string, object>();

        var dropout = new Network<float>(Digits.Features, Digits.Classes, Loss.CrossEntropy, regularizationFactor: 1e-4, seed: 21);
        dropout.AddLinear(24, regularization: true);
        dropout.AddRelu();
        dropout.AddDropout(0.25);
        dropout.AddLinear(Digits.Classes, regularization: true);
        dropout.AddSoftmax();
        dropout.Optimizer = new Adam<float>(2e-3);
        Train(dropout, epochs: 2, batchSize: 32);
        models["dropout-ce-float32"] = Model(folder, "dropout-ce-float32", dropout, new Dictionary<string, string> { ["author"] = "compat fixture", ["note"] = "ü ✓ {\"json\": [1]}" });

        var norm = new Network<double>(Digits.Features, Digits.Classes, Loss.CrossEntropy, regularizationFactor: 1e-4, learningRate: 0.05, seed: 22);
        norm.AddLinear(20, Init.XavierUniform, regularization: true);
        norm.AddBatchNorm(momentum: 0.2);
        norm.AddRelu();
        norm.AddLinear(Digits.Classes, regularization: true);
        norm.AddSoftmax();
        Train(norm, epochs: 2, batchSize: 16);
        models["batchnorm-ce-float64"] = Model(folder, "batchnorm-ce-float64", norm);

        models["activations-l2-float32"] = Model(folder, "activations-l2-float32", Activations<float>());
        models["activations-l2-float64"] = Model(folder, "activations-l2-float64", Activations<double>());

        using var temp = new TempFolder();
        var train = Run("train", "--dataset", "digits", "--epochs", "2", "--layers", "32", "--threads", "1", "--seed", "3", "--out", Path.Combine(temp.Path, "run"));
        Assert.True(train.ExitCode == 0, train.Error);
        string cli = Path.Combine(folder, "cli-digits.safetensors");
        File.Copy(Path.Combine(temp.Path, "run", "model.safetensors"), cli, overwrite: true);
        models["cli-digits"] = ModelEntry(cli, Network<float>.Load(cli));
        WritePredictions(folder, "cli-digits", Network<float>.Load(cli));
        // What the commands print for it, run on a copy (evaluate writes confusion.png beside the model).
        string copy = Path.Combine(temp.Path, "model.safetensors");
        File.Copy(cli, copy);
        var evaluate = Run("evaluate", "--model", copy);
        var predict = Run("predict", "--model", copy, Path.Combine(folder, "cli-digits.input.npy"));
        Assert.True(evaluate.ExitCode == 0 && predict.ExitCode == 0, evaluate.Error + predict.Error);
        var commands = new Dictionary<string, string[]>
        {
            ["evaluate"] = [.. CompatTests.Lines(evaluate.Output).Where(CompatTests.IsEvaluateResult)],
            ["predict"] = [.. CompatTests.Lines(predict.Output).Where(CompatTests.IsPredictResult)],
        };

        foreach (var (setup, cancelAfterBatch) in Checkpoints)
        {
            var straight = CheckpointTests.Run(setup, epochs: 3);
            Npy.Write(Path.Combine(folder, $"checkpoint-{setup}.history.npy"), NpyArray.Of([straight.History.Length / CheckpointTests.Stats, CheckpointTests.Stats], straight.History));
            Npy.Write(Path.Combine(folder, $"checkpoint-{setup}.weights.npy"),
                NpyArray.Of([straight.Weights.Length / sizeof(float)], MemoryMarshal.Cast<byte, float>(straight.Weights)));
            CheckpointTests.Run(setup, epochs: 1, checkpoint: Path.Combine(folder, $"checkpoint-{setup}-epoch1.safetensors"));
            using var cancel = new CancellationTokenSource();
            var first = CheckpointTests.Run(setup, epochs: 3, checkpoint: Path.Combine(folder, $"checkpoint-{setup}-mid.safetensors"), cancel: cancel,
                                            progress: p => { if (p.Epoch == 1 && p.Batch == cancelAfterBatch) cancel.Cancel(); });
            Assert.Equal(StopReason.Cancelled, first.StopReason);
        }

        var manifest = new Dictionary<string, object> { ["instruction_sets"] = InstructionSets(), ["models"] = models, ["cli"] = commands };
        File.WriteAllText(Path.Combine(folder, CompatTests.Manifest), JsonSerializer.Serialize(manifest, new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    // Every activation the model file knows, L2 loss, trained for one epoch.
    private static Network<T> Activations<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        var net = new Network<T>(Digits.Features, Digits.Classes, Loss.L2, regularizationFactor: 1e-4, learningRate: 0.05, seed: 23);
        net.AddLinear(16, regularization: true);
        net.Add(new Sigmoid<T>(net.CurrentWidth));
        net.AddLinear(16, Init.XavierNormal);
        net.Add(new Tanh<T>(net.CurrentWidth));
        net.AddLinear(12, Init.HeUniform);
        net.Add(new Gelu<T>(net.CurrentWidth));
        net.AddLinear(12, w: 0.2, b: 0.1, regularization: true);
        net.Add(new LeakyRelu<T>(net.CurrentWidth, 0.1));
        net.AddLinear(Digits.Classes);
        Train(net, epochs: 1, batchSize: 8);
        return net;
    }

    private static void Train<T>(Network<T> net, int epochs, int batchSize) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var digits = Digits.Load<T>();
        new Trainer<T>(net, digits.Features, digits.Targets, seed: 2).Train(new TrainOptions { Epochs = epochs, BatchSize = batchSize });
    }

    private static Dictionary<string, object> Model<T>(string folder, string name, Network<T> net, Dictionary<string, string>? metadata = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        string path = Path.Combine(folder, $"{name}.safetensors");
        if (metadata is null) net.Save(path); else net.Save(path, metadata);
        var loaded = Network<T>.Load(path);
        Assert.Equal(ToNpy(net.Predict(Input<T>())).Data, ToNpy(loaded.Predict(Input<T>())).Data);
        WritePredictions(folder, name, loaded);
        return ModelEntry(path, loaded);
    }

    private static Dictionary<string, object> ModelEntry<T>(string path, Network<T> loaded) where T : unmanaged, IFloatingPointIeee754<T> =>
        new() { ["architecture"] = loaded.ToString(), ["metadata"] = Network<T>.ReadMetadata(path) };

    private static void WritePredictions<T>(string folder, string name, Network<T> loaded) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Npy.Write(Path.Combine(folder, $"{name}.input.npy"), ToNpy(Input<T>()));
        Npy.Write(Path.Combine(folder, $"{name}.output.npy"), ToNpy(loaded.Predict(Input<T>())));
    }
}

/// <summary>A fact that runs only with <see cref="CompatFixtureWriter.Variable"/> set; skipped, saying so, otherwise.</summary>
public sealed class WritesFixturesFactAttribute : FactAttribute
{
    public WritesFixturesFactAttribute()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(CompatFixtureWriter.Variable)))
            Skip = $"writes the compat fixtures; set {CompatFixtureWriter.Variable} to the folder (see Compat/Fixtures/README.md)";
    }
}
