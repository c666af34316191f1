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
