using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ScratchNet.Losses;
using ScratchNet.Onnx;
using ScratchNet.Tests.DataFormats;

namespace ScratchNet.Tests.Onnx;

/// <summary>Exports networks with each supported layer and runs them in OnnxRuntime: outputs within 1e-5 of Predict.</summary>
public class OnnxExportTests
{
    public static TheoryData<string> Variants => ["linear", "linear-without-bias", "linear-relu-linear", "relu-softmax-ce", "softmax-l2", "double-relu-softmax", "sigmoid-tanh-leaky-ce"];

    [Theory]
    [MemberData(nameof(Variants))]
    public void OnnxRuntimeMatchesPredict(string variant)
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "model.onnx");
        Func<float[], int, float[]> predict;
        int inputs = 6;
        if (variant.StartsWith("double", StringComparison.Ordinal))
        {
            var net = Build<double>(variant, inputs);
            net.ExportOnnx(path);
            predict = (x, rows) => [.. net.Predict(new Matrix<double>(rows, inputs, x.Select(v => (double)v).ToArray())).ToArray().Select(v => (float)v)];
        }
        else
        {
            var net = Build<float>(variant, inputs);
            net.ExportOnnx(path);
            predict = (x, rows) => net.Predict(new Matrix<float>(rows, inputs, x)).ToArray();
        }

        using var session = new InferenceSession(path);
        Assert.Equal("input", session.InputMetadata.Keys.Single());
        Assert.Equal("output", session.OutputMetadata.Keys.Single());
        Assert.Equal(-1, session.InputMetadata["input"].Dimensions[0]);   // dynamic batch
        var random = new Random(variant.Length);
        foreach (int rows in new[] { 1, 7 })
        {
            var x = Enumerable.Range(0, rows * inputs).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
            using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(x, [rows, inputs]))]);
            var got = results.Single().AsTensor<float>().ToArray();
            var expected = predict(x, rows);
            Assert.Equal(expected.Length, got.Length);
            for (int i = 0; i < got.Length; i++) Assert.True(Math.Abs(expected[i] - got[i]) <= 1e-5, $"{variant}, {rows} rows, element {i}: {expected[i]} vs {got[i]}");
        }
    }

    /// <summary>Where Debian's python3-onnx is installed, onnx.checker (full_check) accepts the export; elsewhere this test checks nothing.</summary>
    [Fact]
    public void OnnxCheckerAcceptsTheExportWhereInstalled()
    {
        if (!Python("import onnx", out _)) return;
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "model.onnx");
        Build<float>("relu-softmax-ce", 6).ExportOnnx(path);
        Assert.True(Python($"import onnx; onnx.checker.check_model(onnx.load({System.Text.Json.JsonSerializer.Serialize(path)}), full_check=True)", out string output), output);
    }

    private static bool Python(string code, out string output)
    {
        if (!File.Exists("/usr/bin/python3")) { output = "no /usr/bin/python3"; return false; }
        var start = new System.Diagnostics.ProcessStartInfo("/usr/bin/python3", ["-c", code]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = System.Diagnostics.Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        output = process.StandardOutput.ReadToEnd() + stderr.Result;
        process.WaitForExit();
        return process.ExitCode == 0;
    }

    private static Network<T> Build<T>(string variant, int inputs) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        bool ce = variant.Contains("ce") || variant.StartsWith("double", StringComparison.Ordinal);
        var net = new Network<T>(inputs, 3, ce ? Loss.CrossEntropy : Loss.L2, seed: 4);
        switch (variant)
        {
            case "linear":
                net.AddLinear(3, w: 0.5, b: 0.3);
                break;
            case "linear-without-bias":
                net.AddLinear(8, ScratchNet.Layers.Init.XavierUniform, bias: false); net.AddRelu(); net.AddLinear(3, ScratchNet.Layers.Init.TorchDefault, bias: false);
                break;
            case "linear-relu-linear":
                net.AddLinear(8, w: 0.5, b: 0.3); net.AddRelu(); net.AddLinear(3, w: 0.5, b: 0.3);
                break;
            case "softmax-l2":
                net.AddLinear(3, w: 0.5, b: 0.3); net.AddSoftmax();
                break;
            case "sigmoid-tanh-leaky-ce":
                net.AddLinear(8, w: 0.5, b: 0.3); net.Add(new ScratchNet.Layers.Sigmoid<T>(8));
                net.AddLinear(8, w: 0.5, b: 0.3); net.Add(new ScratchNet.Layers.Tanh<T>(8));
                net.AddLinear(8, w: 0.5, b: 0.3); net.Add(new ScratchNet.Layers.LeakyRelu<T>(8, 0.1));
                net.AddLinear(3, w: 0.5, b: 0.3); net.AddSoftmax();
                break;
            default:
                net.AddLinear(8, w: 0.5, b: 0.3); net.AddRelu(); net.AddLinear(5, w: 0.5, b: 0.3); net.AddRelu(); net.AddLinear(3, w: 0.5, b: 0.3); net.AddSoftmax();
                break;
        }
        return net;
    }
}
