using System.Numerics;
using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ScratchNet.Compute;
using ScratchNet.Layers;
using ScratchNet.Losses;
using ScratchNet.Onnx;
using ScratchNet.Tests.Compute;
using ScratchNet.Tests.DataFormats;
using ScratchNet.Tests.Persistence;

namespace ScratchNet.Tests.Convolution;

/// <summary>
/// Convolutional networks end to end: built with the Add… methods (shape errors name both layers and shapes),
/// trained a few steps, saved and loaded (exactly the same predictions), exported to ONNX (OnnxRuntime within 1e-4
/// of Predict), refused with one clear error when a model file lies about a layer, and deterministic for any thread count.
/// </summary>
[Collection(GlobalStateCollection.Name)]
public class CnnNetworkTests
{
    /// <summary>
    /// A small CNN over (3, 10, 9) images touching every image layer (a frozen convolution and a scaled output among
    /// them); <paramref name="global"/> has the exact GELU and ends in global average pooling and a linear layer, else the tanh GELU, a flatten and a linear layer without a bias.
    /// </summary>
    internal static Network<T> SmallCnn<T>(bool global, ulong seed = 3) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var net = new Network<T>(new Shape(3, 10, 9), 4, Loss.CrossEntropy, regularizationFactor: 1e-4, learningRate: 0.05, seed: seed);
        net.AddConv2d(6, 3, padding: 1);
        net.AddBatchNorm2d();
        net.AddRelu();
        net.AddMaxPool2d(2);                          // (6, 5, 4)
        net.AddConv2dSame(8, 2, groups: 2);
        net.AddBatchNorm2d(frozenWeight: true);
        net.Add(new Gelu<T>(net.CurrentShape, global ? GeluApproximation.None : GeluApproximation.Tanh));   // each form in one variant
        net.AddAvgPool2d(3, stride: 1, padding: 1);
        net.AddConv2d(8, 3, stride: 2, padding: 1, groups: 8, bias: false);   // depthwise, (8, 3, 2)
        net.AddBatchNorm2d(affine: false);
        var frozen = net.Add(new Conv2d<T>(net.CurrentShape, 8, 1, frozenWeight: true));   // pointwise, its weight fixed (a whitening layer's role)
        var random = new Random((int)seed);
        foreach (ref T v in frozen.Weight.Value.Span) v = T.CreateChecked(random.NextDouble() - 0.5);
        if (global) net.AddGlobalAvgPool2d();
        else net.AddFlatten();
        net.AddLinear(4, Init.XavierNormal, bias: global);   // the flattening variant's classifier has none, as airbench's
        net.Add(new Scale<T>(net.CurrentShape, 0.5));
        net.AddSoftmax();
        return net;
    }

    internal static (Matrix<T> X, Matrix<T> Y) Batch<T>(int rows, int seed) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var random = new Random(seed);
        var x = new Matrix<T>(rows, 3 * 10 * 9);
        foreach (ref T v in x.Span) v = T.CreateChecked(random.NextDouble() * 2 - 1);
        var y = new Matrix<T>(rows, 4);
        for (int r = 0; r < rows; r++) y[r, random.Next(4)] = T.One;
        return (x, y);
    }

    private static Network<T> Trained<T>(bool global) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var net = SmallCnn<T>(global);
        for (int step = 0; step < 3; step++)
        {
            var (x, y) = Batch<T>(5, step);
            net.TrainStep(x, y);
        }
        return net;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ACnnSavesAndLoadsWithTheSamePredictions(bool global)
    {
        using var folder = new TempFolder();
        foreach (bool asDouble in new[] { false, true })
        {
            string path = Path.Combine(folder.Path, $"cnn-{asDouble}.safetensors");
            var (x, _) = Batch<double>(6, 99);
            double[] before, after;
            if (asDouble)
            {
                var net = Trained<double>(global);
                net.Save(path);
                before = net.Predict(x).ToArray();
                after = Network<double>.Load(path).Predict(x).ToArray();
            }
            else
            {
                var net = Trained<float>(global);
                net.Save(path);
                var xf = new Matrix<float>(x.Rows, x.Cols, [.. x.ToArray().Select(v => (float)v)]);
                before = [.. net.Predict(xf).ToArray().Select(v => (double)v)];
                var loaded = Network<float>.Load(path);
                Assert.Equal(new Shape(3, 10, 9), loaded.InputShape);
                after = [.. loaded.Predict(xf).ToArray().Select(v => (double)v)];
            }
            Assert.Equal(before, after);
            var names = Network<float>.ReadMetadata(path);
            Assert.Equal("[3,10,9]", names["input_shape"]);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void OnnxRuntimeMatchesPredictForACnn(bool global)
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "cnn.onnx");
        var net = Trained<float>(global);
        net.ExportOnnx(path);
        using var session = new InferenceSession(path);
        Assert.Equal([-1, 3, 10, 9], session.InputMetadata["input"].Dimensions);
        foreach (int rows in new[] { 1, 7 })
        {
            var (x, _) = Batch<float>(rows, rows);
            using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(x.ToArray(), [rows, 3, 10, 9]))]);
            var got = results.Single().AsTensor<float>().ToArray();
            var expected = net.Predict(x).ToArray();
            Assert.Equal(expected.Length, got.Length);
            for (int i = 0; i < got.Length; i++) Assert.True(Math.Abs(expected[i] - got[i]) <= 1e-4, $"{rows} rows, element {i}: Predict {expected[i]}, OnnxRuntime {got[i]}");
        }
    }

    [Fact]
    public void ACnnStateDictByPyTorchNamesLoadsIntoTheSameArchitecture()
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "state.safetensors");
        var source = Trained<float>(global: false);
        source.Save(path);
        var target = SmallCnn<float>(global: false, seed: 11);
        var (x, _) = Batch<float>(4, 5);
        Assert.NotEqual(source.Predict(x).ToArray(), target.Predict(x).ToArray());
        ScratchNet.Persistence.StateDict.LoadStateDict(target, path);
        Assert.Equal(source.Predict(x).ToArray(), target.Predict(x).ToArray());
    }

    [Fact]
    public void ALayerThatDoesNotFitNamesBothLayersAndShapes()
    {
        var net = new Network<float>(new Shape(3, 8, 8), 10, Loss.CrossEntropy);
        net.AddConv2d(16, 3, padding: 1);
        var error = Assert.Throws<NetworkBuildException>(() => net.AddLinear(10));
        Assert.Contains("layer #0 conv2d((3, 8, 8) -> (16, 8, 8))", error.Message);
        Assert.Contains("(16, 8, 8)", error.Message);
        Assert.Contains("1024", error.Message);
        var flat = new Network<float>(12, 2);
        var image = Assert.Throws<ArgumentException>(() => flat.AddConv2d(4, 3));
        Assert.Contains("(12)", image.Message);
    }

    // Each edit of the first conv's (or pool's, or batch norm's) saved settings must end in one ModelFormatException naming the file and the layer.
    public static TheoryData<string, string, string> LyingSettings => new()
    {
        { "0", "kernel_size", "[100000, 3]" },
        { "0", "kernel_size", "[13, 3]" },
        { "0", "kernel_size", "[3]" },
        { "0", "stride", "[0, 1]" },
        { "0", "padding", "[-1, 1]" },
        { "0", "padding", "\"valid\"" },
        { "0", "groups", "4" },
        { "0", "groups", "0" },
        { "0", "in_channels", "4" },
        { "0", "out_channels", "2000000000" },
        { "3", "kernel_size", "[20, 20]" },
        { "3", "padding", "[2, 2]" },
        { "1", "features", "7" },
        { "1", "eps", "0" },
        { "11", "type", "\"conv2d\"" },
    };

    [Theory]
    [MemberData(nameof(LyingSettings))]
    public void AModelFileThatLiesAboutAnImageLayerIsRefusedWithOneClearError(string layer, string key, string json)
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "cnn.safetensors");
        SmallCnn<float>(global: true).Save(path);
        var bytes = SafeTensorsFile.EditMetadataJson(File.ReadAllBytes(path), "layers", layers => layers[int.Parse(layer)]![key] = JsonNode.Parse(json));
        File.WriteAllBytes(path, bytes);
        var error = Assert.Throws<ModelFormatException>(() => Network<float>.Load(path));
        Assert.Contains(path, error.Message);
        Assert.Contains($"layer {layer} ", error.Message);
    }

    [Fact]
    public void AModelFileWithAWrongInputShapeIsRefused()
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "cnn.safetensors");
        SmallCnn<float>(global: true).Save(path);
        foreach (string shape in new[] { "[3,10,10]", "[0,10,9]", "\"x\"", "[9,10,3]" })
        {
            File.WriteAllBytes(path, SafeTensorsFile.Edit(File.ReadAllBytes(path), h => h["__metadata__"]!["input_shape"] = shape));
            var error = Assert.Throws<ModelFormatException>(() => Network<float>.Load(path));
            Assert.Contains(path, error.Message);
        }
    }

    [Fact]
    public void TrainingStepsAreIdenticalForOneAndTwoThreads()
    {
        double[] Run(int threads)
        {
            using var scope = new ThreadCountScope(threads);
            var net = SmallCnn<float>(global: false);
            for (int step = 0; step < 3; step++)
            {
                var (x, y) = Batch<float>(9, step);
                net.TrainStep(x, y);
            }
            return [.. net.Parameters.SelectMany(p => p.Value.ToArray()).Select(v => (double)v)];
        }
        Assert.Equal(Run(1), Run(2));
    }

    [Fact]
    public void AWarmTrainingStepAllocatesNothing()
    {
        var net = SmallCnn<float>(global: true);
        var (x, y) = Batch<float>(8, 1);
        for (int i = 0; i < 3; i++) net.TrainStep(x, y);
        Assert.Equal(0, Allocations.Least(() => net.TrainStep(x, y)));
    }

    [Fact]
    public void AFrozenBatchNormWeightStaysAsSetAndIsSavedUnderItsPyTorchName()
    {
        var net = SmallCnn<float>(global: true);
        var frozen = net.Layers.OfType<BatchNorm2d<float>>().Single(b => b.FrozenWeight);
        frozen.Weight!.Value.Span.Fill(0.75f);
        for (int step = 0; step < 3; step++)
        {
            var (x, y) = Batch<float>(5, step);
            net.TrainStep(x, y);
        }
        Assert.All(frozen.Weight.Value.ToArray(), v => Assert.Equal(0.75f, v));
        Assert.DoesNotContain(frozen.Weight, net.Parameters);
        Assert.Contains(ModuleState.Entries(net.Layers), e => e.Name == "5.weight");
    }
}
