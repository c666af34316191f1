using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ScratchNet.Layers;
using ScratchNet.Losses;
using ScratchNet.Onnx;
using ScratchNet.Optimizers;
using ScratchNet.Tests.DataFormats;

namespace ScratchNet.Tests.Networks;

/// <summary>
/// A network with nested blocks (a residual block with an identity skip, one with a projection, a sequential inside),
/// dropout, batch norm and GELU, through everything that walks a network: training steps (fused and plain), the model
/// file (registry), and ONNX export run by OnnxRuntime.
/// </summary>
public class BlockNetworkTests
{
    private const int Inputs = 6, Classes = 3;

    private static Network<T> BlockNetwork<T>(ulong seed) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var net = new Network<T>(Inputs, Classes, Loss.CrossEntropy, regularizationFactor: 1e-3, learningRate: 0.05, seed: seed);
        var rng = new Rng(seed + 100);
        Linear<T> Linear(int inputs, int outputs) => Linear<T>.Generate(inputs, outputs, 0.4, 0, 0.1, 0, regularized: true, rng);
        net.AddLinear(8, w: 0.4, b: 0.1, regularization: true);
        net.AddBatchNorm();
        net.Add(new Residual<T>(new Sequential<T>(Linear(8, 8), new Gelu<T>(8), Linear(8, 8))));
        net.AddDropout(0.2);
        net.Add(new Residual<T>(new Sequential<T>(Linear(8, 5), new Tanh<T>(5)), projection: Linear(8, 5)));
        net.AddRelu();
        net.AddLinear(Classes, w: 0.4, regularization: true);
        net.AddSoftmax();
        return net;
    }

    private static (Matrix<T> X, Matrix<T> Y) Data<T>(int rows) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var rng = new Rng(5);
        var x = new Matrix<T>(rows, Inputs);
        foreach (ref T v in x.Span) v = T.CreateChecked(rng.NextNormal());
        var y = new Matrix<T>(rows, Classes);
        for (int r = 0; r < rows; r++) y[r, rng.NextInt(Classes)] = T.One;
        return (x, y);
    }

    // Gradients, then the optimiser's own update: not the fused SGD path.
    private sealed class PlainSgd(double learningRate) : IOptimizer<double>
    {
        private readonly Sgd<double> _sgd = new(learningRate);
        public void Step(IReadOnlyList<Parameter<double>> parameters) => _sgd.Step(parameters);
    }

    [Fact]
    public void TheParametersAreEveryBlocksInStateDictOrder()
    {
        var net = BlockNetwork<float>(1);
        Assert.Equal(2 + 2 + 4 + 4 + 2, net.Parameters.Count);
        Assert.Equal("(8)", net.Layers[2].OutputShape.ToString());
        var names = ModelFileNames(net);
        Assert.Equal(["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                      "2.body.0.weight", "2.body.0.bias", "2.body.2.weight", "2.body.2.bias",
                      "4.body.0.weight", "4.body.0.bias", "4.projection.weight", "4.projection.bias", "6.weight", "6.bias"], names);
    }

    [Fact]
    public void GradientsLiveInOneFlatBufferWithAViewPerParameter()
    {
        var net = BlockNetwork<double>(6);
        var (x, y) = Data<double>(9);
        net.ComputeGradients(x, y, out _);
        var flat = net.Gradients.Span;
        Assert.Equal(net.Parameters.Sum(p => p.Value.Length), flat.Length);
        int offset = 0;
        foreach (var parameter in net.Parameters)
        {
            Assert.Equal(parameter.Gradient.ToArray(), flat.Slice(offset, parameter.Gradient.Length).ToArray());
            offset += parameter.Gradient.Length;
        }
        Assert.Contains(flat.ToArray(), g => g != 0);
        net.Parameters[^1].Gradient[0, 0] = 42;   // a view: writing through it writes the buffer
        Assert.Equal(42, flat[^net.Parameters[^1].Gradient.Length]);
    }

    private static List<string> ModelFileNames(Network<float> net)
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "m.safetensors");
        net.Save(path);
        var bytes = File.ReadAllBytes(path);
        using var header = JsonDocument.Parse(bytes.AsMemory(8, (int)BitConverter.ToUInt64(bytes, 0)));
        return [.. header.RootElement.EnumerateObject().Select(p => p.Name).Where(n => n != "__metadata__")];
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    public void FusedSgdStepsMatchGradientsThenAnSgdStep(int batch)
    {
        // Batch 1 has no batch statistics: the batch-norm layer is replaced by the identity for it.
        var fused = BlockNetwork<double>(2);
        var plain = BlockNetwork<double>(2);
        plain.Optimizer = new PlainSgd(0.05);
        var (x, y) = Data<double>(40 * Math.Max(batch, 2));
        for (int step = 0; step < 40; step++)
        {
            int size = Math.Max(batch, 2);
            int[] rows = [.. Enumerable.Range(step * size, size)];
            double a = fused.TrainStep(x.GatherRows(rows), y.GatherRows(rows));
            double b = plain.TrainStep(x.GatherRows(rows), y.GatherRows(rows));
            Assert.True(Math.Abs(a - b) <= 1e-9 * Math.Max(1, b), $"step {step}: loss {a} vs {b}");
        }
        for (int p = 0; p < fused.Parameters.Count; p++)
            for (int i = 0; i < fused.Parameters[p].Value.Length; i++)
                Assert.True(Math.Abs(fused.Parameters[p].Value.Span[i] - plain.Parameters[p].Value.Span[i]) <= 1e-9, $"parameter {p}, element {i}");
    }

    [Fact]
    public void TheModelFileRoundTripsTheBlocksAndPredictsTheSame()
    {
        var net = BlockNetwork<float>(3);
        var (x, y) = Data<float>(64);
        var trainer = new ScratchNet.Training.Trainer<float>(net, x, y, seed: 1);
        trainer.Train(epochs: 2, batchSize: 8);
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "blocks.safetensors");
        net.Save(path);
        var loaded = Network<float>.Load(path);
        Assert.Equal(net.ToString(), loaded.ToString());
        Assert.Equal(net.Predict(x).ToArray(), loaded.Predict(x).ToArray());
        var layers = JsonDocument.Parse(Network<float>.ReadMetadata(path)["layers"]).RootElement;
        Assert.Equal("residual", layers[4].GetProperty("type").GetString());
        Assert.Equal("sequential", layers[4].GetProperty("body").GetProperty("type").GetString());
        Assert.Equal("linear", layers[4].GetProperty("projection").GetProperty("type").GetString());
    }

    [Fact]
    public void ABlockEntryOfTheWrongShapeIsOneModelFormatError()
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "blocks.safetensors");
        BlockNetwork<float>(4).Save(path);
        var bytes = File.ReadAllBytes(path);
        int length = (int)BitConverter.ToUInt64(bytes, 0);
        var header = System.Text.Json.Nodes.JsonNode.Parse(bytes.AsSpan(8, length))!;
        var layers = System.Text.Json.Nodes.JsonNode.Parse(header["__metadata__"]!["layers"]!.GetValue<string>())!;
        layers[4]!["projection"]!["in"] = 9;   // the projection's recorded input width no longer fits what it follows
        header["__metadata__"]!["layers"] = layers.ToJsonString();
        var json = System.Text.Encoding.UTF8.GetBytes(header.ToJsonString());
        using (var file = File.Create(path))
        {
            file.Write(BitConverter.GetBytes((ulong)json.Length));
            file.Write(json);
            file.Write(bytes.AsSpan(8 + length));
        }
        var e = Assert.Throws<ModelFormatException>(() => Network<float>.Load(path));
        Assert.Contains("layer 4.projection (linear) reads 9 features but follows a width of 8", e.Message);
    }

    [Fact]
    public void OnnxRuntimeRunsTheBlocksAsPredictDoes()
    {
        var net = BlockNetwork<float>(5);
        var (x, y) = Data<float>(32);
        new ScratchNet.Training.Trainer<float>(net, x, y, seed: 2).Train(epochs: 1, batchSize: 8);   // non-trivial running estimates
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "blocks.onnx");
        net.ExportOnnx(path);
        using var session = new InferenceSession(path);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(x.ToArray(), [x.Rows, Inputs]))]);
        var got = results.Single().AsTensor<float>().ToArray();
        var expected = net.Predict(x).ToArray();
        for (int i = 0; i < got.Length; i++) Assert.True(Math.Abs(expected[i] - got[i]) <= 1e-5, $"element {i}: {expected[i]} vs {got[i]}");
    }
}
