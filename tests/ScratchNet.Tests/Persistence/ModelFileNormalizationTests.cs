using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using ScratchNet.Data;
using ScratchNet.Layers;
using ScratchNet.Losses;
using ScratchNet.Tests.DataFormats;

namespace ScratchNet.Tests.Persistence;

/// <summary>Dropout and BatchNorm1d in model files: metadata, PyTorch tensor names, round trip.</summary>
public class ModelFileNormalizationTests
{
    private static Network<double> TrainedNet()
    {
        var net = new Network<double>(5, 3, Loss.CrossEntropy, learningRate: 0.05, seed: 11);
        net.AddLinear(6);
        net.AddBatchNorm(momentum: 0.2, epsilon: 1e-4);
        net.AddRelu();
        net.AddDropout(0.25);
        net.AddLinear(3);
        net.AddSoftmax();
        var x = new Matrix<double>(8, 5);
        for (int i = 0; i < x.Length; i++) x.Span[i] = Math.Sin(0.7 * i);
        var y = Dataset<double>.OneHot([0, 1, 2, 1, 0, 2, 2, 1], 3);
        for (int i = 0; i < 10; i++) net.TrainStep(x, y);   // γ, β and the running estimates leave their defaults
        return net;
    }

    [Fact]
    public void RoundTripKeepsEveryValueAndPredictsTheSame()
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "norm.safetensors");
        var net = TrainedNet();
        net.Save(path);
        var loaded = Network<double>.Load(path);

        Assert.Equal(net.Layers.Select(l => l.Kind), loaded.Layers.Select(l => l.Kind));
        var (norm, again) = ((BatchNorm1d<double>)net.Layers[1], (BatchNorm1d<double>)loaded.Layers[1]);
        Assert.Equal(norm.Weight.Value.ToArray(), again.Weight.Value.ToArray());
        Assert.Equal(norm.Bias.Value.ToArray(), again.Bias.Value.ToArray());
        Assert.Equal(norm.RunningMean.ToArray(), again.RunningMean.ToArray());
        Assert.Equal(norm.RunningVariance.ToArray(), again.RunningVariance.ToArray());
        Assert.NotEqual(new double[6], norm.RunningMean.ToArray());
        Assert.Equal((0.2, 1e-4), (again.Momentum, again.Epsilon));
        Assert.Equal(0.25, ((Dropout<double>)loaded.Layers[3]).Rate);

        var x = new Matrix<double>(4, 5);
        for (int i = 0; i < x.Length; i++) x.Span[i] = Math.Cos(i);
        Assert.Equal(net.Predict(x).ToArray(), loaded.Predict(x).ToArray());

        var floats = Network<float>.Load(path);   // float64 file into float32
        Assert.Equal(norm.RunningVariance.ToArray().Select(v => (float)v), ((BatchNorm1d<float>)floats.Layers[1]).RunningVariance.ToArray());
    }

    // The header's JSON and the data bytes of a saved file.
    private static (JsonObject Header, byte[] Data) Split(string path)
    {
        var bytes = File.ReadAllBytes(path);
        int length = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        return (JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, length))!.AsObject(), bytes[(8 + length)..]);
    }

    [Fact]
    public void TensorsHavePyTorchNamesAndTheMetadataDescribesTheLayers()
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "norm.safetensors");
        TrainedNet().Save(path);
        var (header, _) = Split(path);
        string[] names = ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "4.weight", "4.bias"];
        Assert.Equal(names.Order(), header.Select(p => p.Key).Where(k => k != "__metadata__").Order());
        Assert.Equal([6L], header["1.running_var"]!["shape"]!.AsArray().Select(n => n!.GetValue<long>()));
        var layers = JsonNode.Parse(header["__metadata__"]!["layers"]!.GetValue<string>())!.AsArray();
        Assert.Equal("batchnorm1d", layers[1]!["type"]!.GetValue<string>());
        Assert.Equal(6, layers[1]!["features"]!.GetValue<int>());
        Assert.Equal(0.2, layers[1]!["momentum"]!.GetValue<double>());
        Assert.Equal(1e-4, layers[1]!["eps"]!.GetValue<double>());
        Assert.Equal("dropout", layers[3]!["type"]!.GetValue<string>());
        Assert.Equal(0.25, layers[3]!["rate"]!.GetValue<double>());
    }

    [Theory]
    [InlineData("features", 7, "reads 7 features")]
    [InlineData("momentum", 1.5, "batchnorm1d")]
    [InlineData("eps", 0, "batchnorm1d")]
    public void ABadBatchNormEntryIsRejected(string key, double value, string expected)
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "norm.safetensors");
        TrainedNet().Save(path);
        var (header, data) = Split(path);
        var layers = JsonNode.Parse(header["__metadata__"]!["layers"]!.GetValue<string>())!.AsArray();
        layers[1]![key] = key == "features" ? (int)value : value;
        header["__metadata__"]!["layers"] = layers.ToJsonString();
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        var file = new byte[8 + json.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)json.Length);
        json.CopyTo(file, 8);
        data.CopyTo(file, 8 + json.Length);
        File.WriteAllBytes(path, file);
        var e = Assert.Throws<ModelFormatException>(() => Network<double>.Load(path));
        Assert.Contains(expected, e.Message);
    }
}
