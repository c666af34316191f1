using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ScratchNet.Losses;
using ScratchNet.Tests.DataFormats;

namespace ScratchNet.Tests.Persistence;

/// <summary>
/// Writes models and their outputs for tools/interop/load_in_torch.py. With SCRATCHNET_TORCH_INTEROP=1
/// (and Debian's python3-torch at /usr/bin/python3) it also runs the script and requires it to pass;
/// otherwise it only checks the files are written. SCRATCHNET_INTEROP_DIR keeps the files there.
/// </summary>
public class TorchInteropTests
{
    [Fact]
    public void TorchLoadsOurModels()
    {
        using var temp = new TempFolder();
        string dir = Environment.GetEnvironmentVariable("SCRATCHNET_INTEROP_DIR") is { Length: > 0 } d ? Directory.CreateDirectory(d).FullName : temp.Path;
        var cases = new List<(string Model, string Expected)>
        {
            Write<float>(dir, "ce-float32", Loss.CrossEntropy),
            Write<double>(dir, "ce-float64", Loss.CrossEntropy),
            Write<float>(dir, "l2-float32", Loss.L2),
            Write<double>(dir, "l2-float64", Loss.L2),
            Write<double>(dir, "activations-float64", Loss.CrossEntropy, everyActivation: true),
            WriteCnn<float>(dir, "cnn-global-float32", global: true),
            WriteCnn<double>(dir, "cnn-flatten-float64", global: false),
        };
        if (Environment.GetEnvironmentVariable("SCRATCHNET_TORCH_INTEROP") != "1") return;
        string script = Path.Combine(RepoRoot(), "tools", "interop", "load_in_torch.py");
        foreach (var (model, expected) in cases)
        {
            var start = new ProcessStartInfo("/usr/bin/python3", [script, model, expected]) { RedirectStandardOutput = true, RedirectStandardError = true };
            using var process = Process.Start(start)!;
            string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, output);
        }
    }

    private static (string, string) Write<T>(string dir, string name, Loss loss, bool everyActivation = false) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var net = new Network<T>(6, 4, loss, regularizationFactor: 1e-4, learningRate: 0.01, seed: 11);
        net.AddLinear(9, regularization: true);
        net.AddRelu();
        net.AddLinear(5, w: 0.3, b: 0.2);
        net.AddRelu();
        if (everyActivation)
        {
            net.AddLinear(5, w: 0.5, b: 0.2); net.Add(new ScratchNet.Layers.Sigmoid<T>(5));
            net.AddLinear(5, w: 0.5, b: 0.2); net.Add(new ScratchNet.Layers.Tanh<T>(5));
            net.AddLinear(5, w: 0.5, b: 0.2); net.Add(new ScratchNet.Layers.Gelu<T>(5));
            net.AddLinear(5, w: 0.5, b: 0.2); net.Add(new ScratchNet.Layers.LeakyRelu<T>(5, 0.05));
        }
        net.AddLinear(4, w: 0.3, b: 0.2);
        if (loss == Loss.CrossEntropy) net.AddSoftmax();
        var random = new Random(5);
        var x = new Matrix<T>(8, 6);
        foreach (ref T v in x.Span) v = T.CreateChecked(random.NextDouble() * 4 - 2);
        string model = Path.Combine(dir, $"{name}.safetensors"), expected = Path.Combine(dir, $"{name}.json");
        net.Save(model);
        var y = net.Predict(x);
        static double[][] Rows(Matrix<T> t) => [.. Enumerable.Range(0, t.Rows).Select(r => t.Row(r).ToArray().Select(double.CreateChecked).ToArray())];
        File.WriteAllText(expected, JsonSerializer.Serialize(new { input = Rows(x), output = Rows(y) }));
        Assert.True(new FileInfo(model).Length > 0);
        return (model, expected);
    }

    // The CNN of CnnNetworkTests (every image layer: conv2d with groups, "same" and depthwise, batch norm plain, frozen
    // and without affine, both poolings, global pooling or flatten), trained a few steps so the running estimates move.
    private static (string, string) WriteCnn<T>(string dir, string name, bool global) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var net = Convolution.CnnNetworkTests.SmallCnn<T>(global);
        for (int step = 0; step < 3; step++)
        {
            var (bx, by) = Convolution.CnnNetworkTests.Batch<T>(5, step);
            net.TrainStep(bx, by);
        }
        var (x, _) = Convolution.CnnNetworkTests.Batch<T>(6, 42);
        string model = Path.Combine(dir, $"{name}.safetensors"), expected = Path.Combine(dir, $"{name}.json");
        net.Save(model);
        var y = net.Predict(x);
        static double[][] Rows(Matrix<T> t) => [.. Enumerable.Range(0, t.Rows).Select(r => t.Row(r).ToArray().Select(double.CreateChecked).ToArray())];
        File.WriteAllText(expected, JsonSerializer.Serialize(new { input = Rows(x), output = Rows(y) }));
        return (model, expected);
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !Directory.Exists(Path.Combine(dir.FullName, "tools", "interop"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("tools/interop not found above the test binaries");
    }
}
