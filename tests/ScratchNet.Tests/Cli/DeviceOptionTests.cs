using ScratchNet.Cli;
using ScratchNet.Cli.Commands;
using ScratchNet.Data;
using ScratchNet.Gpu.Backends;
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

    private static bool MachineHasGpu => IlgpuBackend.DescribeCudaDevices().Count > 0;

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
    public void AutoSaysWhyARunStaysOnTheCpu()
    {
        var (exitCode, output, error) = Run("train", "--epochs", "1", "--optimizer", "adam", "--out", Path.Combine(_runs.Path, "adam"));
        Assert.True(exitCode == 0, error);
        Assert.Contains("# device: cpu (the GPU path does not run this configuration: it trains with plain SGD (--optimizer adam given))", output, StringComparison.Ordinal);
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
    [InlineData("--dtype", "float64", "float32")]
    [InlineData("--dropout", "0.2", "dropout")]
    [InlineData("--activation", "gelu", "gelu")]
    [InlineData("--schedule", "cosine", "schedules")]
    public void CudaRefusesWhatTheGpuPathDoesNotRun(string option, string value, string named)
    {
        var (exitCode, _, error) = Run("train", "--epochs", "1", "--device", "cuda", option, value, "--out", Path.Combine(_runs.Path, "refused"));
        Assert.Equal(2, exitCode);
        Assert.StartsWith("error: --device cuda: ", error, StringComparison.Ordinal);
        Assert.Contains(named, error, StringComparison.Ordinal);
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

    [Fact]
    public void TheGpuTrainingPathRunsTheConfiguredEpochsAndStopsOnCancellation()
    {
        var config = new RunConfig { ValFraction = 0.2, Stratify = false, Seed = 3, Epochs = 3, BatchSize = 4 };
        var data = SeparableData.Create(seed: 3);
        using var simulator = IlgpuBackend.CreateCpuSimulator();

        var network = SeparableData.Network(seed: 3);
        var output = new StringWriter();
        var result = DeviceChoice.Train(network, data, config, simulator, new PlainView(output), CancellationToken.None);
        Assert.False(result.Interrupted);
        Assert.Equal(4, result.History.Count);
        Assert.Equal(4, output.ToString().Split('\n').Count(l => l.StartsWith("E: ", StringComparison.Ordinal)));
        Assert.True(result.History.Final.ValidationAccuracy > 0.8, $"validation accuracy {result.History.Final.ValidationAccuracy}");

        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        var stopped = DeviceChoice.Train(SeparableData.Network(seed: 3), data, config, simulator, new PlainView(TextWriter.Null), cancelled.Token);
        Assert.True(stopped.Interrupted);
        Assert.Equal(StopReason.Cancelled, stopped.History.StopReason);
        Assert.Single(stopped.History); // epoch −1 only
    }
}
