using System.Diagnostics;
using System.Text.Json;
using ScratchNet.Layers;
using ScratchNet.Losses;
using ScratchNet.Persistence;
using ScratchNet.Tests.DataFormats;

namespace ScratchNet.Tests.Persistence;

/// <summary>
/// <see cref="StateDict.LoadStateDict{T}(Network{T}, string)"/>: a state dict by PyTorch's names loads into the network of the same
/// architecture. Our own model files use those names, so they are loaded always; with SCRATCHNET_TORCH_INTEROP=1 (Debian's
/// python3-torch at /usr/bin/python3) tools/interop/torch_state_dict.py also writes a trained nn.Sequential's state dict
/// and its softmax outputs, and ScratchNet must predict the same.
/// </summary>
public class StateDictTests
{
    // The architecture of tools/interop/torch_state_dict.py, with the softmax PyTorch leaves to its loss.
    private static Network<T> TorchArchitecture<T>(ulong seed = 0) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var net = new Network<T>(6, 4, Loss.CrossEntropy, seed: seed);
        net.AddLinear(9); net.AddBatchNorm(); net.AddRelu();
        net.AddLinear(5); net.Add(new Tanh<T>(5)); net.AddDropout(0.2);
        net.AddLinear(4); net.AddSoftmax();
        return net;
    }

    private static Matrix<double> Inputs()
    {
        var random = new Random(3);
        var x = new Matrix<double>(10, 6);
        foreach (ref double v in x.Span) v = random.NextDouble() * 4 - 2;
        return x;
    }

    [Fact]
    public void AStateDictByPyTorchNamesLoadsIntoTheSameArchitecture()
    {
        using var temp = new TempFolder();
        var source = TorchArchitecture<double>(seed: 5);
        new ScratchNet.Training.Trainer<double>(source, Inputs(), ScratchNet.Data.Dataset<double>.OneHot([0, 1, 2, 3, 0, 1, 2, 3, 0, 1], 4), validationFraction: 0.2)
            .Train(epochs: 3, batchSize: 4);                                  // moves the weights and batch-norm estimates
        string path = Path.Combine(temp.Path, "state.safetensors");
        source.Save(path);

        var target = TorchArchitecture<double>(seed: 9);
        Assert.NotEqual(source.Predict(Inputs()).ToArray(), target.Predict(Inputs()).ToArray());
        target.LoadStateDict(path);
        Assert.Equal(source.Predict(Inputs()).ToArray(), target.Predict(Inputs()).ToArray());
    }

    [Fact]
    public void AStateDictThatDoesNotFitIsRefusedBeforeAnythingChanges()
    {
        using var temp = new TempFolder();
        string path = Path.Combine(temp.Path, "state.safetensors");
        TorchArchitecture<float>(seed: 1).Save(path);

        var wider = new Network<float>(6, 4, Loss.CrossEntropy);
        wider.AddLinear(10); wider.AddBatchNorm(); wider.AddRelu(); wider.AddLinear(5); wider.Add(new Tanh<float>(5)); wider.AddDropout(0.2); wider.AddLinear(4); wider.AddSoftmax();
        float[] before = wider.Layers[0].Parameters[0].Value.ToArray();
        var shape = Assert.Throws<ModelFormatException>(() => wider.LoadStateDict(path));
        Assert.Contains("'0.weight' has shape [9, 6], but the network's layer needs [10, 6]", shape.Message);
        Assert.Equal(before, wider.Layers[0].Parameters[0].Value.ToArray());

        var shorter = new Network<float>(6, 9, Loss.CrossEntropy);
        shorter.AddLinear(9); shorter.AddSoftmax();
        var extra = Assert.Throws<ModelFormatException>(() => shorter.LoadStateDict(path));
        Assert.Contains("belongs to no layer", extra.Message);

        var longer = new Network<float>(6, 4, Loss.CrossEntropy);
        longer.AddLinear(9); longer.AddBatchNorm(); longer.AddRelu(); longer.AddLinear(5); longer.Add(new Tanh<float>(5)); longer.AddDropout(0.2);
        longer.AddLinear(4); longer.AddRelu(); longer.AddLinear(4); longer.AddSoftmax();
        var missing = Assert.Throws<ModelFormatException>(() => longer.LoadStateDict(path));
        Assert.Contains("tensor '8.weight' is missing", missing.Message);
    }

    [Fact]
    public void ATrainedPyTorchSequentialPredictsTheSameInScratchNet()
    {
        if (Environment.GetEnvironmentVariable("SCRATCHNET_TORCH_INTEROP") != "1") return;
        using var temp = new TempFolder();
        string model = Path.Combine(temp.Path, "torch.safetensors"), expected = Path.Combine(temp.Path, "torch.json");
        string script = Path.Combine(RepoRoot(), "tools", "interop", "torch_state_dict.py");
        var start = new ProcessStartInfo("/usr/bin/python3", [script, model, expected]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using (var process = Process.Start(start)!)
        {
            string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, output);
        }
        using var json = JsonDocument.Parse(File.ReadAllText(expected));
        double[][] Rows(string name) => [.. json.RootElement.GetProperty(name).EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetDouble()).ToArray())];
        double[][] input = Rows("input"), want = Rows("output");
        var x = new Matrix<double>(input.Length, 6, input.SelectMany(r => r).ToArray());

        var net = TorchArchitecture<double>();
        net.LoadStateDict(model);                                             // float32 weights, loaded exactly into double
        var got = net.Predict(x);
        for (int r = 0; r < want.Length; r++)
            for (int c = 0; c < 4; c++)
                Assert.True(Math.Abs(got[r, c] - want[r][c]) < 1e-6, $"row {r}, class {c}: ScratchNet {got[r, c]}, PyTorch {want[r][c]}");
        var single = TorchArchitecture<float>();
        single.LoadStateDict(model);
        Assert.Equal(net.PredictClasses(x), single.PredictClasses(ToFloat(x)));
    }

    private static Matrix<float> ToFloat(Matrix<double> x) => new(x.Rows, x.Cols, x.ToArray().Select(v => (float)v).ToArray());

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !Directory.Exists(Path.Combine(dir.FullName, "tools", "interop"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("tools/interop not found above the test binaries");
    }
}
