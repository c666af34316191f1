using ScratchNet.Gpu;
using ScratchNet.Optimizers;
using ScratchNet.Tests.Compute;
using ScratchNet.Tests.Training;
using ScratchNet.Training;

namespace ScratchNet.Tests.Gpu;

/// <summary>
/// Ranks whose networks are on a device (each its own ILGPU CPU accelerator running the GPU kernels), on a process group
/// of threads: the device computes forward and backward, the gradients are staged through the host for the reduction and
/// stepped on the device. tests/…/Mpi runs the same across processes.
/// </summary>
[Collection(GlobalStateCollection.Name)]
public sealed class DataParallelDeviceTests(DataParallelDeviceTests.Simulators simulators) : IClassFixture<DataParallelDeviceTests.Simulators>
{
    private const int Epochs = 2, Batch = 24;

    /// <summary>One simulated GPU per rank, kept across tests (each compiles its kernels once).</summary>
    public sealed class Simulators : IDisposable
    {
        public GpuDevice[] Devices { get; } = [GpuDevice.CreateCpuSimulator(), GpuDevice.CreateCpuSimulator(), GpuDevice.CreateCpuSimulator()];

        public void Dispose()
        {
            foreach (var device in Devices) device.Dispose();
        }
    }

    private static Network<float> Network(string optimizer, ulong seed)
    {
        var network = SeparableData.Network(seed, dropout: 0.2);
        network.Optimizer = optimizer switch
        {
            "adam" => new Adam<float>(0.01),
            "clipped-momentum" => new ClippedOptimizer<float>(new SgdMomentum<float>(0.05, 0.9), maxNorm: 0.5),
            _ => new Sgd<float>(0.1),
        };
        return network;
    }

    private static float[] Weights(Network<float> network) => [.. network.Parameters.SelectMany(p => p.Value.ToArray())];

    // One rank's (or one process's) run: on its own simulated GPU when onDevice; every rank starts from other weights.
    private (float[] Weights, History History) Train(string optimizer, bool onDevice, TrainOptions options, int rank = 0)
    {
        var data = SeparableData.Create(seed: 2, samples: 120);
        var network = Network(optimizer, seed: 9 + (ulong)rank);
        var device = onDevice ? simulators.Devices[rank] : null;
        if (device is not null) network.MoveTo(device);
        var history = new Trainer<float>(network, data, seed: 4).Train(options with { Epochs = Epochs, BatchSize = Batch });
        if (device is not null)
        {
            Assert.NotNull(network.Device);   // it trained there
            network.MoveToHost();
        }
        return (Weights(network), history);
    }

    private static (double, double, double, double)[] Statistics(History history) =>
        [.. history.Select(e => (e.TrainLoss, e.TrainAccuracy, e.ValidationLoss, e.ValidationAccuracy))];

    [Theory]
    [InlineData(2, "adam")]
    [InlineData(3, "clipped-momentum")]
    public void Ranks_on_a_device_give_bit_for_bit_the_run_of_one_device_accumulating_as_many_parts_and_the_cpu_ranks_within_rounding(int ranks, string optimizer)
    {
        using var scope = new ThreadCountScope(1);
        var single = Train(optimizer, onDevice: true, new TrainOptions { Accumulate = ranks });
        var onDevices = ThreadProcessGroup.Run(ranks, group => Train(optimizer, onDevice: true, new TrainOptions { Processes = group }, group.Rank));
        var onCpus = ThreadProcessGroup.Run(ranks, group => Train(optimizer, onDevice: false, new TrainOptions { Processes = group }, group.Rank));
        foreach (var (weights, history) in onDevices)
        {
            Assert.Equal(single.Weights, weights);
            Assert.Equal(Statistics(single.History), Statistics(history));
        }
        Assert.NotEqual(Weights(Network(optimizer, seed: 9)), single.Weights);   // it trained
        float[] cpu = onCpus[0].Weights, gpu = onDevices[0].Weights;
        double worst = cpu.Zip(gpu, (a, b) => Math.Abs(a - b) / Math.Max(1, Math.Abs(a))).Max();
        Assert.True(worst < 1e-4, $"device and CPU ranks differ by {worst:E2}");
    }

    [Fact]
    public void The_fast_reduction_on_devices_matches_the_ordered_one_within_rounding()
    {
        using var scope = new ThreadCountScope(1);
        var ordered = ThreadProcessGroup.Run(3, group => Train("adam", onDevice: true, new TrainOptions { Processes = group }, group.Rank));
        var fast = ThreadProcessGroup.Run(3, group => Train("adam", onDevice: true, new TrainOptions { Processes = group, Reduce = GradientReduction.Fast }, group.Rank));
        Assert.All(fast, f => Assert.Equal(fast[0].Weights, f.Weights));
        double worst = ordered[0].Weights.Zip(fast[0].Weights, (a, b) => Math.Abs(a - b) / Math.Max(1, Math.Abs(a))).Max();
        Assert.True(worst < 1e-5, $"fast and ordered differ by {worst:E2}");
    }

    [Fact]
    public void Accumulation_on_a_device_steps_as_the_whole_batch_within_rounding()
    {
        using var scope = new ThreadCountScope(1);
        var whole = Train("adam", onDevice: true, new TrainOptions());
        var parts = Train("adam", onDevice: true, new TrainOptions { Accumulate = 4 });
        double worst = whole.Weights.Zip(parts.Weights, (a, b) => Math.Abs(a - b) / Math.Max(1, Math.Abs(a))).Max();
        Assert.True(worst < 1e-4, $"accumulated and whole batches differ by {worst:E2}");
        Assert.NotEqual(whole.Weights, parts.Weights);   // not the same path: the parts were summed on the host
    }
}
