using System.Numerics;
using System.Runtime.InteropServices;
using System.Text.Json;
using ScratchNet.Data.Formats;
using ScratchNet.Persistence;
using ScratchNet.Tests.DataFormats;
using ScratchNet.Tests.Training;
using ScratchNet.Training;
using static ScratchNet.Tests.Cli.CliRunner;
using Setup = ScratchNet.Tests.Training.CheckpointTests.Setup;

namespace ScratchNet.Tests.Compat;

/// <summary>
/// Backward compatibility: the model files and checkpoints in Compat/Fixtures, written by an earlier version of
/// the library (<see cref="CompatFixtureWriter"/>), still load, predict bit for bit what they predicted then, and
/// resume to the bit-identical end of the run they were taken from; the CLI's evaluate and predict still read
/// the model its train command wrote.
/// </summary>
[Collection(GlobalStateCollection.Name)]   // the CLI sets the global thread count
public class CompatTests
{
    public const string Manifest = "manifest.json";

    private static readonly JsonElement Expected = JsonDocument.Parse(File.ReadAllText(Fixture(Manifest))).RootElement;

    // The fixtures' numbers hold bit for bit on the SIMD paths they were written on; elsewhere the kernels sum in
    // another order, and only closeness (and the CLI's line structure) can be asserted. Measured with AVX2 and with all
    // intrinsics switched off: predictions within 1e-7 (float32) and 3e-16 (float64), resumed weights within 1e-6 and
    // histories within 1e-7 after two epochs; the tolerances below leave margins of 100 and more.
    private static readonly bool SameInstructionSets = Expected.GetProperty("instruction_sets").GetString() == CompatFixtureWriter.InstructionSets();

    /// <summary>The lines of <c>evaluate</c>'s output that the fixtures freeze: loss and accuracy.</summary>
    internal static bool IsEvaluateResult(string line) => line.StartsWith("loss: ", StringComparison.Ordinal) || line.StartsWith("accuracy: ", StringComparison.Ordinal);

    /// <summary>The lines of <c>predict</c>'s output that the fixtures freeze: one per input row.</summary>
    internal static bool IsPredictResult(string line) => line.StartsWith("row ", StringComparison.Ordinal);

    [Theory]
    [InlineData("dropout-ce-float32", "64-24-10 linear relu dropout linear softmax, ce")]
    [InlineData("batchnorm-ce-float64", "64-20-10 linear batchnorm1d relu linear softmax, ce")]
    [InlineData("activations-l2-float32", "64-16-16-12-12-10 linear sigmoid linear tanh linear gelu linear leaky_relu linear, l2")]
    [InlineData("activations-l2-float64", "64-16-16-12-12-10 linear sigmoid linear tanh linear gelu linear leaky_relu linear, l2")]
    [InlineData("cli-digits", "64-32-10 linear relu linear softmax, ce")]
    public void AModelFileLoadsWithItsMetadataAndPredictsAsWhenItWasWritten(string name, string architecture)
    {
        string path = Fixture($"{name}.safetensors");
        var metadata = Network<float>.ReadMetadata(path);
        var written = Expected.GetProperty("models").GetProperty(name);
        Assert.Equal(written.GetProperty("architecture").GetString(), architecture);
        Assert.Equal(written.GetProperty("metadata").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!), metadata);
        if (metadata["dtype"] == "float32") LoadsAndPredicts<float>(name, architecture);
        else LoadsAndPredicts<double>(name, architecture);
    }

    private static void LoadsAndPredicts<T>(string name, string architecture) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var net = Network<T>.Load(Fixture($"{name}.safetensors"));
        Assert.Equal(architecture, net.ToString());
        var input = Npy.Read(Fixture($"{name}.input.npy"));
        var x = new Matrix<T>(input.Shape[0], input.Shape[1]);
        for (int i = 0; i < x.Span.Length; i++) x.Span[i] = input.At<T>(i);
        Assert.Equal(CompatFixtureWriter.ToNpy(x).Data, input.Data);   // the input came through unchanged
        Same<T>(Npy.Read(Fixture($"{name}.output.npy")).Data, CompatFixtureWriter.ToNpy(net.Predict(x)).Data, typeof(T) == typeof(float) ? 1e-5 : 1e-12,
                exact: !KernelsChangedSince.Any(kind => architecture.Contains(kind, StringComparison.Ordinal)));
    }

    // Layers whose kernels were rewritten after the fixtures were written: the same function, other last bits. GELU's tanh
    // became vectorised (sign(u)·(1 − e)/(1 + e), e = exp(−2|u|)) in December 2026; its fixtures hold within the tolerance.
    private static readonly string[] KernelsChangedSince = ["gelu"];

    [Theory]
    [InlineData(Setup.SgdBatch1, "epoch1")]
    [InlineData(Setup.SgdBatch1, "mid")]
    [InlineData(Setup.Sgd, "epoch1")]
    [InlineData(Setup.Sgd, "mid")]
    [InlineData(Setup.Adam, "epoch1")]
    [InlineData(Setup.Adam, "mid")]
    public void ACommittedCheckpointResumesToTheEndOfTheUninterruptedRun(Setup setup, string taken)
    {
        var resumed = CheckpointTests.Run(setup, epochs: 3, resumeFrom: Fixture($"checkpoint-{setup}-{taken}.safetensors"));

        Assert.Equal(StopReason.Completed, resumed.StopReason);
        Same<double>(Npy.Read(Fixture($"checkpoint-{setup}.history.npy")).Data, MemoryMarshal.AsBytes(resumed.History.AsSpan()).ToArray(), 1e-3);
        Same<float>(Npy.Read(Fixture($"checkpoint-{setup}.weights.npy")).Data, resumed.Weights, 1e-4);
    }

    [Theory]
    [InlineData(Setup.SgdBatch1)]
    [InlineData(Setup.Sgd)]
    [InlineData(Setup.Adam)]
    public void TheCommittedCheckpointsAreTakenWhereTheyClaim(Setup setup)
    {
        // The fixtures must exercise what they are for: an epoch boundary, a position mid-epoch, and for batch 1 the
        // first Linear's deferred SGD step (pending.0.input/.gradient and the metadata's pending_steps entry).
        int cancelAfterBatch = CompatFixtureWriter.Checkpoints.Single(c => c.Setup == setup).CancelAfterBatch;
        foreach (var (taken, nextBatch) in new[] { ("epoch1", 0), ("mid", cancelAfterBatch + 1) })
        {
            string path = Fixture($"checkpoint-{setup}-{taken}.safetensors");
            using var file = File.OpenRead(path);
            var header = SafeTensors.ReadHeader(file, path);
            using var state = JsonDocument.Parse(header.Metadata["checkpoint"]);
            var root = state.RootElement;
            Assert.Equal(1, root.GetProperty("format_version").GetInt32());
            Assert.Equal(1, root.GetProperty("next_epoch").GetInt32());
            Assert.Equal(nextBatch, root.GetProperty("next_batch").GetInt32());
            bool pending = setup == Setup.SgdBatch1 && taken == "mid";
            int[] pendingLayers = pending ? [0] : [];
            Assert.Equal(pendingLayers, root.GetProperty("pending_steps").EnumerateArray().Select(s => s.GetProperty("layer").GetInt32()));
            Assert.Equal(pending, header.Tensors.Any(t => t.Name == "pending.0.input") && header.Tensors.Any(t => t.Name == "pending.0.gradient"));
            Assert.Equal(setup == Setup.Adam, header.Tensors.Any(t => t.Name.StartsWith("optimizer.", StringComparison.Ordinal)));
        }
    }

    [Fact]
    public void EvaluateAndPredictReadTheModelWrittenByTrain()
    {
        using var temp = new TempFolder();   // evaluate writes confusion.png beside the model: not into the fixtures
        string model = Path.Combine(temp.Path, "model.safetensors");
        File.Copy(Fixture("cli-digits.safetensors"), model);
        var metadata = Network<float>.ReadMetadata(model);
        Assert.Equal("digits", metadata["dataset"]);
        using (var config = JsonDocument.Parse(metadata["train_config"])) Assert.Equal(3, config.RootElement.GetProperty("seed").GetInt32());

        var evaluate = Run("evaluate", "--model", model);
        var predict = Run("predict", "--model", model, Fixture("cli-digits.input.npy"));

        Assert.True(evaluate.ExitCode == 0, evaluate.Error);
        Assert.True(predict.ExitCode == 0, predict.Error);
        var cli = Expected.GetProperty("cli");
        foreach (var (command, output, frozen) in new[] { ("evaluate", evaluate.Output, (Func<string, bool>)IsEvaluateResult), ("predict", predict.Output, IsPredictResult) })
        {
            string[] expected = [.. cli.GetProperty(command).EnumerateArray().Select(l => l.GetString()!)], actual = [.. Lines(output).Where(frozen)];
            if (SameInstructionSets) Assert.Equal(expected, actual);
            else Assert.Equal(expected.Select(l => l[..l.IndexOf(':')]), actual.Select(l => l[..l.IndexOf(':')]));   // "loss", "accuracy", "row k"
        }
        Assert.Contains("the validation rows of the run's split (seed 3, val_fraction 0.2; from ", evaluate.Output);
    }

    /// <summary>
    /// The same bytes, read as little-endian <typeparamref name="T"/>; on other instruction sets (see
    /// <see cref="SameInstructionSets"/>) or where the kernels changed (not <paramref name="exact"/>), elementwise within <paramref name="tolerance"/> · max(1, max |expected|), NaN matching NaN.
    /// </summary>
    private static void Same<T>(byte[] expected, byte[] actual, double tolerance, bool exact = true) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if ((SameInstructionSets && exact) || expected.Length != actual.Length)
        {
            Assert.Equal(expected, actual);
            return;
        }
        ReadOnlySpan<T> e = MemoryMarshal.Cast<byte, T>(expected), a = MemoryMarshal.Cast<byte, T>(actual);
        double scale = 1;
        foreach (var v in e) if (T.IsFinite(v)) scale = Math.Max(scale, double.CreateChecked(T.Abs(v)));
        for (int i = 0; i < e.Length; i++)
            Assert.True(T.IsNaN(e[i]) ? T.IsNaN(a[i]) : double.CreateChecked(T.Abs(a[i] - e[i])) <= tolerance * scale,
                        $"element {i} is {a[i]}, {e[i]} when the fixture was written (tolerance {tolerance:G3} × {scale:G3}; instruction sets here: {CompatFixtureWriter.InstructionSets()})");
    }

    internal static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static string Fixture(string name)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Compat", "Fixtures", name);
        Assert.True(File.Exists(path), $"{path}: the fixture is missing (see Compat/Fixtures/README.md)");
        return path;
    }
}
