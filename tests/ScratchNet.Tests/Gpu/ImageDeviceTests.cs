using ILGPU.Runtime;
using ScratchNet.Cli;
using ScratchNet.Cli.Commands;
using ScratchNet.Data;
using ScratchNet.Gpu;
using ScratchNet.Gpu.Diagnostics;
using ScratchNet.Gpu.Layers;
using ScratchNet.Layers;
using ScratchNet.Losses;
using ScratchNet.Optimizers;
using ScratchNet.Training;
using Xunit;

namespace ScratchNet.Tests.Gpu;

/// <summary>
/// The image layers on the device (ILGPU's CPU accelerator): a small CNN trained with the CIFAR recipe's settings
/// against the CPU, each optimiser with parameter groups and label smoothing, the convolution's chunked path, determinism,
/// and <c>--device auto</c> taking a GPU for a CNN recipe.
/// </summary>
[Collection(GlobalStateCollection.Name)]
public sealed class ImageDeviceTests : IClassFixture<DeviceTests.Simulator>
{
    private readonly GpuDevice _device;

    public ImageDeviceTests(DeviceTests.Simulator simulator) => _device = simulator.Device;

    [Fact]
    public void ACnnWithTheRecipesSettingsAndEveryOptimiserWithParameterGroupsTrainAsOnTheCpu()
    {
        // With the one-thread-per-element GEMM, which equals the tiled one bit for bit (DeviceTests checks it on every tail)
        // and runs three times faster here: the CPU accelerator gives each thread of a tile an OS thread and a barrier.
        var primitives = _device.Primitives<float>();
        primitives.Tiled = false;
        IReadOnlyList<ParityResult> results;
        try { results = ParityCheck.ImageTrainings(_device, steps: 20, seed: 5); }
        finally { primitives.Tiled = null; }
        Assert.All(results, r => Assert.True(r.Passed, $"{r.Name}: relative error {r.RelativeError:E2} (bound {r.Tolerance:E0})"));
        Assert.Equal(12 + 5 * 9, results.Count);   // the CNN's 11 state tensors, each grouped run's 8, and their statistics
        Assert.Contains(results, r => r.Name.Contains("cnn", StringComparison.Ordinal) && r.Name.Contains("running_var", StringComparison.Ordinal));
    }

    [Fact]
    public void AConvolutionCutIntoChunksOfSamplesGivesTheUnchunkedResult()
    {
        var rng = new Rng(4);
        var layer = new Conv2d<double>(new Shape(4, 5, 7), 6, (3, 2), (2, 1), (1, 1), groups: 2);
        foreach (ref double v in layer.Weight.Value.Span) v = rng.NextNormal();
        foreach (ref double v in layer.Bias!.Value.Span) v = rng.NextNormal();
        var x = Random(7, layer.InputSize, rng);
        var dy = Random(7, layer.OutputSize, rng);

        (double[] Y, double[] Dx, double[] Dw) Run(long maxElements)
        {
            long saved = Conv2dChunks.MaxElements;
            Conv2dChunks.MaxElements = maxElements;
            try
            {
                var parameters = ModuleState.Parameters<double>([layer]);
                var (buffers, context) = GpuNetwork<double>.Bind(parameters, _device);
                using (context)
                {
                    GpuNetwork<double>.Upload(buffers);
                    var half = DeviceLayer<double>.Create(layer, "0", context);
                    var y = half.Forward(new DeviceMatrix<double>(_device, layer.InputSize).Upload(x));
                    var yHost = new Matrix<double>(x.Rows, layer.OutputSize);
                    y.Download(yHost);
                    var dx = half.Backward(new DeviceMatrix<double>(_device, layer.OutputSize).Upload(dy));
                    _device.Synchronize();
                    var dxHost = new Matrix<double>(x.Rows, layer.InputSize);
                    dx.Download(dxHost);
                    var dw = new double[layer.Weight.Value.Length];
                    buffers.Segment(buffers.Gradients, 0).CopyToCPU(dw);
                    return (yHost.ToArray(), dxHost.ToArray(), dw);
                }
            }
            finally { Conv2dChunks.MaxElements = saved; }
        }

        var whole = Run(1L << 26);
        // A sample's column matrix is 2 channels · 3·2 taps = 12 rows by 3·8 positions: 600 elements hold two samples, 1 holds one.
        foreach (long limit in new long[] { 600, 1 })
        {
            var chunked = Run(limit);
            Assert.Equal(whole.Y, chunked.Y);
            Assert.Equal(whole.Dx, chunked.Dx);
            // dW sums the chunks in order, one GEMM each: the same terms, grouped by chunk.
            for (int i = 0; i < whole.Dw.Length; i++) Assert.Equal(whole.Dw[i], chunked.Dw[i], 1e-12);
        }
    }

    [Fact]
    public void TrainingACnnOnTheDeviceIsDeterministic()
    {
        float[] Train()
        {
            var network = SmallCnn(seed: 3);
            network.MoveTo(_device);
            var (x, y) = Data(24, network.Inputs, seed: 3);
            new Trainer<float>(network, new Dataset<float>("images", x, y), seed: 3).Train(1, batchSize: 6);
            network.MoveToHost();
            return [.. network.Parameters.SelectMany(p => p.Value.ToArray())];
        }
        Assert.Equal(Train(), Train());
    }

    [Theory]
    [InlineData("cifar10-cnn.json")]
    [InlineData("cifar10-cnn-quick.json")]
    public void DeviceAutoPutsTheShippedCnnRecipesOnTheGpuWhenOneIsUsable(string recipe)
    {
        // The recipes' network, optimiser, parameter groups, label smoothing and schedule, as train builds them.
        var config = RunConfig.Read(Path.Combine(RepoRoot(), "experiments", recipe));
        Assert.NotNull(config.LabelSmoothing);
        Assert.NotNull(config.BiasLrScale);
        var network = TrainCommand.BuildNetwork<float>(config, 3 * 32 * 32, 10, new Shape(3, 32, 32));
        network.Optimizer = TrainingSetup.Optimizer<float>(config);
        RecipeSetup.Apply(config, network);
        Assert.Contains(network.Parameters, p => p.LearningRateScale != 1);
        Assert.True(network.LabelSmoothing > 0);
        Assert.Null(NetworkPlacement.WhyNotOnDevice(network));

        var saved = DeviceChoice.OpenGpu;
        DeviceChoice.OpenGpu = _ => GpuDevice.CreateCpuSimulator();   // the GPU a machine with one would open
        try
        {
            var output = new StringWriter();
            using (DeviceChoice.Select(config, network, output))
            {
                Assert.NotNull(network.Device);
                Assert.Equal($"# device: {network.Device.Name}", output.ToString().Trim());
            }
            Assert.Null(network.Device);
        }
        finally { DeviceChoice.OpenGpu = saved; }
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !Directory.Exists(Path.Combine(dir.FullName, "experiments"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("experiments/ not found above the test binaries");
    }

    // conv → batchnorm2d → relu → maxpool → conv → global average pool → linear, on (2, 6, 6) samples.
    private static Network<float> SmallCnn(ulong seed)
    {
        var network = new Network<float>(new Shape(2, 6, 6), 3, Loss.CrossEntropy, seed: seed)
        {
            Optimizer = new SgdMomentum<float>(0.05, 0.9, nesterov: true, weightDecay: 1e-3, decoupled: true),
            LabelSmoothing = 0.1,
        };
        network.AddConv2d(3, 3, padding: 1, bias: false);
        network.AddBatchNorm2d();
        network.AddRelu();
        network.AddMaxPool2d(2);
        network.AddConv2d(4, 3, padding: 1);
        network.AddGlobalAvgPool2d();
        network.AddLinear(3);
        network.AddSoftmax();
        return network;
    }

    private static (Matrix<float>, Matrix<float>) Data(int samples, int features, ulong seed)
    {
        var rng = new Rng(seed);
        var x = new Matrix<float>(samples, features);
        foreach (ref float v in x.Span) v = (float)rng.NextNormal();
        var y = new Matrix<float>(samples, 3);
        for (int r = 0; r < samples; r++) y[r, rng.NextInt(3)] = 1;
        return (x, y);
    }

    private static Matrix<double> Random(int rows, int cols, Rng rng)
    {
        var m = new Matrix<double>(rows, cols);
        foreach (ref double v in m.Span) v = rng.NextNormal();
        return m;
    }
}
