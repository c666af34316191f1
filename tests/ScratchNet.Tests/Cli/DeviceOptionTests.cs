using ScratchNet.Cli;
using ScratchNet.Cli.Commands;
using ScratchNet.Data;
using ScratchNet.Gpu;
using ScratchNet.Tests.DataFormats;
using ScratchNet.Tests.Gpu;
using ScratchNet.Training;
using static ScratchNet.Tests.Cli.CliRunner;

namespace ScratchNet.Tests.Cli;

/// <summary>
/// <c>train --device</c> and <c>info</c>. Where no GPU is present (CI), <c>auto</c> must fall back to the CPU with a
/// notice and <c>cuda</c> must fail with one line; the GPU training path itself runs here on the kernel simulator.
/// </summary>
[Collection(GlobalStateCollection.Name)]
public sealed class DeviceOptionTests : IDisposable
{
    private readonly TempFolder _runs = new();

    public void Dispose() => _runs.Dispose();

    private static bool MachineHasGpu => GpuDevice.DescribeCudaDevices().Count > 0;

    [Fact]
    public void AutoFallsBackToTheCpuWithANoticeAndRecordsTheChoice()
    {
        if (MachineHasGpu) return;
        string folder = Path.Combine(_runs.Path, "auto");
        var (exitCode, output, error) = Run("train", "--epochs", "1", "--out", folder);
        Assert.True(exitCode == 0, error);
        Assert.Contains("# device: cpu (no usable GPU: ", output, StringComparison.Ordinal);
        Assert.Contains("\"device\": \"auto\"", File.ReadAllText(Path.Combine(folder, "config.json")), StringComparison.Ordinal);
    }

    [Fact]
    public void CudaWithoutAGpuFailsInOneLine()
    {
        if (MachineHasGpu) return;
        var (exitCode, _, error) = Run("train", "--epochs", "1", "--device", "cuda", "--out", Path.Combine(_runs.Path, "cuda"));
        Assert.Equal(1, exitCode);
        Assert.StartsWith("error: No CUDA device", error, StringComparison.Ordinal);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Theory]
    [InlineData("--dtype", "float64")]
    [InlineData("--dropout", "0.2")]
    [InlineData("--activation", "gelu")]
    [InlineData("--schedule", "cosine")]
    [InlineData("--optimizer", "adam")]
    [InlineData("--early-stopping", "2")]
    public void CudaNoLongerRefusesASettingOnlyTheMissingGpu(string option, string value)
    {
        if (MachineHasGpu) return;
        var (exitCode, _, error) = Run("train", "--epochs", "1", "--device", "cuda", option, value, "--out", Path.Combine(_runs.Path, "cuda-" + value));
        Assert.Equal(1, exitCode);
        Assert.StartsWith("error: No CUDA device", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sgd", null, null, "relu", "float")]
    [InlineData("adamw", 0.3, "cosine", "gelu", "float")]
    [InlineData("rmsprop", 0.1, "step", "tanh", "double")]
    [InlineData("momentum", null, "plateau", "leaky_relu", "double")]
    public void EveryNetworkTheCliBuildsHasADeviceHalf(string optimizer, double? dropout, string? schedule, string activation, string dtype)
    {
        var config = new RunConfig
        {
            Layers = [12, 7], Loss = "ce", Reg = 1e-4, Lr = 0.01, Seed = 1, InitScheme = "he", Optimizer = optimizer, Dropout = dropout, Schedule = schedule,
            Activation = activation, ClipNorm = 1,
        };
        string? reason = dtype == "float"
            ? Why(TrainCommand.BuildNetwork<float>(config, 5, 3), config)
            : Why(TrainCommand.BuildNetwork<double>(config, 5, 3), config);
        Assert.Null(reason);

        static string? Why<T>(Network<T> network, RunConfig config) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        {
            network.Optimizer = TrainingSetup.Optimizer<T>(config);
            return NetworkPlacement.WhyNotOnDevice(network);
        }
    }

    [Fact]
    public void AnUnknownDeviceIsAUsageError()
    {
        var (exitCode, _, error) = Run("train", "--device", "tpu");
        Assert.Equal(2, exitCode);
        Assert.Contains("--device", error, StringComparison.Ordinal);
    }

    [Fact]
    public void InfoListsTheCpuAndWhatAutoUses()
    {
        var (exitCode, output, error) = Run("info");
        Assert.True(exitCode == 0, error);
        Assert.StartsWith("cpu: ", output, StringComparison.Ordinal);
        Assert.Contains("train --device auto uses: ", output, StringComparison.Ordinal);
        if (!MachineHasGpu) Assert.Contains("cuda: no device", output, StringComparison.Ordinal);
    }
}
