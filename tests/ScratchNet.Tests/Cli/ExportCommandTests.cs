using Microsoft.ML.OnnxRuntime;
using ScratchNet.Cli;
using ScratchNet.Losses;
using ScratchNet.Tests.DataFormats;
using static ScratchNet.Tests.Cli.CliRunner;

namespace ScratchNet.Tests.Cli;

public class ExportCommandTests
{

    [Fact]
    public void ExportWritesAnOnnxFileOnnxRuntimeLoads()
    {
        using var folder = new TempFolder();
        string model = Path.Combine(folder.Path, "model.safetensors"), onnx = Path.Combine(folder.Path, "model.onnx");
        var net = new Network<float>(4, 2, Loss.CrossEntropy);
        net.AddLinear(5); net.AddRelu(); net.AddLinear(2); net.AddSoftmax();
        net.Save(model);

        var (exitCode, output, error) = Run("export", "--model", model, "--onnx", onnx);

        Assert.True(exitCode == 0, error);
        Assert.Contains(onnx, output);
        using var session = new InferenceSession(onnx);
        Assert.Equal(2, session.OutputMetadata["output"].Dimensions[1]);
    }

    [Fact]
    public void TheShippedFashionRecipesArchitectureExportsAndOnnxRuntimeMatchesPredict()
    {
        // experiments/fashion-mnist-mlp.json's layers (dropout after each hidden activation, Adam), on the embedded digits.
        using var folder = new TempFolder();
        string run = Path.Combine(folder.Path, "run"), onnx = Path.Combine(folder.Path, "model.onnx");
        var (trained, _, trainError) = Run("train", "--epochs", "1", "--layers", "32,16", "--dropout", "0.2", "--optimizer", "adam",
            "--lr", "0.001", "--activation", "gelu", "--out", run);
        Assert.True(trained == 0, trainError);
        string model = Path.Combine(run, "model.safetensors");

        var (exitCode, _, error) = Run("export", "--model", model, "--onnx", onnx);

        Assert.True(exitCode == 0, error);
        var net = Network<float>.Load(model);
        var x = new Matrix<float>(5, 64);
        var rng = new Rng(3);
        foreach (ref float v in x.Span) v = (float)rng.NextDouble();
        using var session = new InferenceSession(onnx);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(x.ToArray(), [5, 64]))]);
        var got = results.Single().AsTensor<float>().ToArray();
        var expected = net.Predict(x).ToArray();
        for (int i = 0; i < got.Length; i++) Assert.True(Math.Abs(expected[i] - got[i]) <= 1e-5, $"element {i}: {expected[i]} vs {got[i]}");
    }

    [Fact]
    public void ALayerWithoutAnOnnxFormIsOneErrorLineAndExitCode1()
    {
        using var folder = new TempFolder();
        string model = Path.Combine(folder.Path, "model.safetensors");
        if (!ScratchNet.Layers.LayerRegistry.Kinds.Contains(Square<float>.TypeName))
            ScratchNet.Layers.LayerRegistry.Register(Square<float>.TypeName, s => new Square<float>(s.Input), s => new Square<double>(s.Input));
        var net = new Network<float>(4, 2);
        net.AddLinear(2); net.Add(new Square<float>(2));
        net.Save(model);

        var (exitCode, output, error) = Run("export", "--model", model, "--onnx", Path.Combine(folder.Path, "x.onnx"));

        Assert.Equal(CliApp.RunError, exitCode);
        Assert.Equal("", output);
        Assert.StartsWith("error: layer 1 square(2 -> 2) has no ONNX form", error);
        Assert.Single(error.Trim().Split('\n'));
        Assert.False(File.Exists(Path.Combine(folder.Path, "x.onnx")));
    }

    // A user's own layer type, registered but with no Export: y = x².
    private sealed class Square<T>(Shape shape) : ScratchNet.Layers.Activation<T>(shape) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        public const string TypeName = "square";
        private readonly Matrix<T> _input = new(0, shape.Size);

        public override string Kind => TypeName;

        protected override void Activate(Matrix<T> input, Matrix<T> output)
        {
            _input.SetRows(input.Rows);
            input.Span.CopyTo(_input.Span);
            System.Numerics.Tensors.TensorPrimitives.Multiply<T>(input.Span, input.Span, output.Span);
        }

        protected override void Backpropagate(Matrix<T> output, Matrix<T> outputGradient, Matrix<T> inputGradient)
        {
            var x = _input.Span;
            for (int i = 0; i < x.Length; i++) inputGradient.Span[i] = T.CreateChecked(2) * x[i] * outputGradient.Span[i];
        }
    }

    [Fact]
    public void BadModelFileIsOneErrorLineAndExitCode1()
    {
        using var folder = new TempFolder();
        string model = folder.Write("bad.safetensors", [1, 2, 3]);

        var (exitCode, _, error) = Run("export", "--model", model, "--onnx", Path.Combine(folder.Path, "x.onnx"));

        Assert.Equal(CliApp.RunError, exitCode);
        Assert.StartsWith("error: ", error);
        Assert.Contains("bad.safetensors", error);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Fact]
    public void MissingOptionIsAUsageError()
    {
        var (exitCode, _, error) = Run("export", "--model", "m.safetensors");
        Assert.Equal(CliApp.UsageError, exitCode);
        Assert.StartsWith("error: ", error);
    }
}
