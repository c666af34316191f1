using ScratchNet.Losses;
using ScratchNet.Tests.DataFormats;

namespace ScratchNet.Tests.Persistence;

public class ModelFileMetadataTests
{
    private static Network<float> Small()
    {
        var network = new Network<float>(3, 2, Loss.CrossEntropy, seed: 4);
        network.AddLinear(4);
        network.AddRelu();
        network.AddLinear(2);
        network.AddSoftmax();
        return network;
    }

    [Fact]
    public void ExtraMetadataIsReadBackAndTheNetworkLoadsAsWithout()
    {
        using var temp = new TempFolder();
        string with = Path.Combine(temp.Path, "with.safetensors"), without = Path.Combine(temp.Path, "without.safetensors");
        var network = Small();
        network.Save(with, new Dictionary<string, string> { ["dataset"] = "digits", ["note"] = "{\"seed\": 4}" });
        network.Save(without);

        var metadata = Network<float>.ReadMetadata(with);
        Assert.Equal("digits", metadata["dataset"]);
        Assert.Equal("{\"seed\": 4}", metadata["note"]);
        Assert.Equal("3", metadata["inputs"]);
        Assert.False(Network<float>.ReadMetadata(without).ContainsKey("dataset"));
        var input = new Matrix<float>(1, 3, [0.5f, -1f, 2f]);
        Assert.Equal(Network<float>.Load(without).Predict(input).Span.ToArray(), Network<float>.Load(with).Predict(input).Span.ToArray());
    }

    [Theory]
    [InlineData("inputs")]
    [InlineData("layers")]
    [InlineData("dtype")]
    public void ExtraMetadataCannotReplaceTheArchitecture(string key)
    {
        using var temp = new TempFolder();
        string path = Path.Combine(temp.Path, "m.safetensors");

        var e = Assert.Throws<ArgumentException>(() => Small().Save(path, new Dictionary<string, string> { [key] = "1" }));
        Assert.Contains($"'{key}'", e.Message);
        Assert.False(File.Exists(path));
    }
}
