using ScratchNet.Gpu;

namespace ScratchNet.Cli.Commands;

/// <summary>
/// <c>--device auto|cpu|cuda</c>: where <c>train</c> runs. Every layer, optimiser, schedule and trainer feature the CLI
/// builds has a device half, so the choice is only about the hardware: <c>auto</c> takes a usable NVIDIA GPU and
/// otherwise the CPU, saying why in one line; <c>cuda</c> insists and fails with the reason. The one trainer then
/// drives the network wherever it is.
/// </summary>
internal static class DeviceChoice
{
    public static readonly string[] Names = ["auto", "cpu", "cuda"];

    /// <summary>How the GPU of an index is opened: that CUDA device; the tests put ILGPU's CPU accelerator in its place.</summary>
    internal static Func<int, GpuDevice> OpenGpu { get; set; } = index => GpuDevice.CreateCuda(index);

    /// <summary>
    /// Moves <paramref name="network"/> to the chosen GPU, or leaves it on the CPU; writes one "# device: …" line. Disposing
    /// the result brings the network back to the host and releases the GPU.
    /// </summary>
    /// <exception cref="UsageException"><c>--device cuda</c> with a network that has a layer or optimiser without a device half.</exception>
    /// <exception cref="DeviceException"><c>--device cuda</c> and no usable GPU.</exception>
    /// <remarks>Under mpirun, <paramref name="localRank"/> (the rank's number on its machine) picks the GPU, modulo their count.</remarks>
    public static IDisposable Select<T>(RunConfig c, Network<T> network, TextWriter output, int localRank = 0)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        string device = c.Device ?? "auto";
        if (device == "cpu")
        {
            output.WriteLine("# device: cpu");
            return Placement<T>.None;
        }
        // Every recipe setting runs on the device (label smoothing, parameter groups, SGD's weight decay, per-step schedules,
        // weight averaging through the host's copy); only a layer or optimiser without a device half keeps a run here.
        if (NetworkPlacement.WhyNotOnDevice(network) is { } unsupported)
        {
            // Only a network built in code can hold a layer without a device half; the CPU runs it.
            if (device == "cuda") throw new UsageException($"--device cuda: {unsupported}; use --device cpu or auto.");
            output.WriteLine($"# device: cpu ({unsupported})");
            return Placement<T>.None;
        }
        GpuDevice gpu;
        try
        {
            gpu = OpenGpu(localRank == 0 ? 0 : localRank % Math.Max(1, GpuDevice.DescribeCudaDevices().Count));
        }
        catch (DeviceException e) when (device == "auto")
        {
            output.WriteLine($"# device: cpu (no usable GPU: {e.Message})");
            return Placement<T>.None;
        }
        try
        {
            network.MoveTo(gpu);
        }
        catch
        {
            gpu.Dispose();
            throw;
        }
        output.WriteLine($"# device: {gpu.Name}");
        return new Placement<T>(network, gpu);
    }

    private sealed class Placement<T>(Network<T>? network, GpuDevice? gpu) : IDisposable where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        public static readonly Placement<T> None = new(null, null);

        public void Dispose()
        {
            network?.MoveToHost();
            gpu?.Dispose();
        }
    }
}
