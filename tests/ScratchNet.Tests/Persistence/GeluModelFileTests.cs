using System.Text.Json.Nodes;
using ScratchNet.Layers;
using ScratchNet.Tests.DataFormats;

namespace ScratchNet.Tests.Persistence;

/// <summary>
/// GELU's form in model files: the exact form is saved as <c>"approximate": "none"</c> and loads as itself; the tanh form
/// is saved without the key, as every file from before the exact form, and an entry without it is the tanh form (an
/// explicit <c>"tanh"</c> too); an unknown form is refused with the key named.
/// </summary>
public class GeluModelFileTests
{
    private static Network<float> Net(GeluApproximation approximate)
    {
        var net = new Network<float>(4, 3, seed: 5);
        net.AddLinear(6);
        net.Add(new Gelu<float>(net.CurrentShape, approximate));
        net.AddLinear(3);
        return net;
    }

    private static readonly Matrix<float> X = new(2, 4, [-2.5f, -0.3f, 0.4f, 1.7f, 3f, -1f, 0.25f, -4f]);

    [Theory]
    [InlineData(GeluApproximation.None)]
    [InlineData(GeluApproximation.Tanh)]
    public void EachFormLoadsAsItself(GeluApproximation approximate)
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "gelu.safetensors");
        var net = Net(approximate);
        net.Save(path);

        var entry = JsonNode.Parse(Network<float>.ReadMetadata(path)["layers"])!.AsArray()[1]!.AsObject();
        if (approximate == GeluApproximation.None) Assert.Equal("none", entry["approximate"]!.GetValue<string>());
        else Assert.False(entry.ContainsKey("approximate"), entry.ToJsonString());   // as files from before the exact form
        var loaded = Network<float>.Load(path);
        Assert.Equal(approximate, Assert.IsType<Gelu<float>>(loaded.Layers[1]).Approximate);
        Assert.Equal(net.Predict(X).ToArray(), loaded.Predict(X).ToArray());
    }

    [Fact]
    public void AnExplicitTanhEntryIsTheTanhForm()
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "gelu.safetensors");
        var net = Net(GeluApproximation.Tanh);
        net.Save(path);
        string named = folder.Write("named.safetensors", SafeTensorsFile.EditMetadataJson(File.ReadAllBytes(path), "layers", l => l[1]!["approximate"] = "tanh"));

        var loaded = Network<float>.Load(named);
        Assert.Equal(GeluApproximation.Tanh, Assert.IsType<Gelu<float>>(loaded.Layers[1]).Approximate);
        Assert.Equal(net.Predict(X).ToArray(), loaded.Predict(X).ToArray());
    }

    [Fact]
    public void TheFormsDiffer()
    {
        var exact = Net(GeluApproximation.None).Predict(X).ToArray();
        var tanh = Net(GeluApproximation.Tanh).Predict(X).ToArray();
        Assert.NotEqual(exact, tanh);
    }

    [Fact]
    public void AnUnknownFormIsRefusedNamingTheKey()
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "gelu.safetensors");
        Net(GeluApproximation.None).Save(path);
        string bad = folder.Write("bad.safetensors", SafeTensorsFile.EditMetadataJson(File.ReadAllBytes(path), "layers", l => l[1]!["approximate"] = "erf"));

        var error = Assert.Throws<ModelFormatException>(() => Network<float>.Load(bad));
        Assert.StartsWith($"{bad}: not a valid model file: ", error.Message);
        Assert.Contains("'approximate'", error.Message);
        Assert.Contains("\"none\"", error.Message);
    }

    [Fact]
    public void AnUndefinedFormIsRefusedByTheConstructor() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new Gelu<float>(3, (GeluApproximation)7));
}
