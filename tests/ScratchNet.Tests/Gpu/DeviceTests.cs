using ILGPU.Runtime;
using ScratchNet.Data;
using ScratchNet.Tests.DataFormats;
using ScratchNet.Gpu;
using ScratchNet.Gpu.Diagnostics;
using ScratchNet.Layers;
using ScratchNet.Losses;
using ScratchNet.Optimizers;
using ScratchNet.Training;
using Xunit;

namespace ScratchNet.Tests.Gpu;

/// <summary>
/// The one network on the device: every layer's device half against its host layer, whole trainings with every
/// optimiser through the one <see cref="Trainer{T}"/> against the CPU, and the trainer's features (divergence guard,
/// checkpoints and resume, early stopping, a test set, float64) on the device. The device here is ILGPU's CPU
/// accelerator running the GPU kernels; <c>scratchnet info --check</c> runs the same <see cref="ParityCheck"/> on CUDA.
/// </summary>
[Collection(GlobalStateCollection.Name)]
public sealed class DeviceTests : IClassFixture<DeviceTests.Simulator>
{
    private readonly GpuDevice _device;

    public DeviceTests(Simulator simulator) => _device = simulator.Device;

    public sealed class Simulator : IDisposable
    {
        public GpuDevice Device { get; } = GpuDevice.CreateCpuSimulator();

        public void Dispose() => Device.Dispose();
    }

    [Fact]
    public void EveryLayersDeviceHalfMatchesItsHostLayer()
    {
        var results = ParityCheck.Layers(_device, seed: 3);
        Assert.True(results.Count >= 200, $"only {results.Count} comparisons ran");
        foreach (string kind in new[] { "conv2d", "maxpool2d", "avgpool2d", "global_avgpool2d", "flatten", "batchnorm2d" })
            foreach (string type in new[] { "Single", "Double" })
                Assert.Contains(results, r => r.Name.StartsWith(kind, StringComparison.Ordinal) && r.Name.Contains(type, StringComparison.Ordinal));
        Assert.All(results, r => Assert.True(r.Passed, $"{r.Name}: relative error {r.RelativeError:E2} (bound {r.Tolerance:E0})"));
    }

    [Fact]
    public void TwentyStepTrainingsWithEveryOptimiserMatchTheCpu()
    {
        var results = ParityCheck.OptimizerTrainings(_device, steps: 20, seed: 5);
        Assert.All(results, r => Assert.True(r.Passed, $"{r.Name}: relative error {r.RelativeError:E2} (bound {r.Tolerance:E0})"));
        Assert.Equal(7 * 9 + 7, results.Count);   // per run: each state tensor and the statistics
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void TheTiledGemmEqualsTheOneThreadPerElementGemmAndTheHostOnEveryTail(bool transposeA, bool transposeB)
    {
        var run = _device.Primitives<float>();
        var rng = new Rng(21);
        foreach (var (m, n, k) in new[] { (1, 1, 1), (3, 5, 7), (9, 4, 13), (4, 8, 4), (6, 1, 9), (1, 10, 5) })
        {
            // Leading dimensions wider than the operands: the strided form the layers use on views.
            int lda = (transposeA ? m : k) + 2, ldb = (transposeB ? k : n) + 1, ldc = n + 3;
            var a = Filled((transposeA ? k : m) * lda);
            var b = Filled((transposeB ? n : k) * ldb);
            var c = Filled(m * ldc);
            float[] Run(bool tiled)
            {
                using var da = _device.Allocate<float>(a.Length);
                using var db = _device.Allocate<float>(b.Length);
                using var dc = _device.Allocate<float>(c.Length);
                da.CopyFromCPU(a);
                db.CopyFromCPU(b);
                dc.CopyFromCPU(c);
                run.Tiled = tiled;
                try { run.Gemm(transposeA, transposeB, m, n, k, 0.5f, da.View, lda, db.View, ldb, 2f, dc.View, ldc); }
                finally { run.Tiled = null; }
                _device.Synchronize();
                return dc.GetAsArray1D();
            }
            var tiled = Run(true);
            Assert.Equal(Run(false), tiled);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double sum = 0;
                    for (int p = 0; p < k; p++)
                        sum += (double)(transposeA ? a[p * lda + i] : a[i * lda + p]) * (transposeB ? b[j * ldb + p] : b[p * ldb + j]);
                    Assert.Equal(0.5 * sum + 2.0 * c[i * ldc + j], tiled[i * ldc + j], 1e-4);
                }
            for (int i = 0; i < m; i++)
                for (int j = n; j < ldc; j++) Assert.Equal(c[i * ldc + j], tiled[i * ldc + j]);   // beyond n: untouched
        }

        float[] Filled(int length) => [.. Enumerable.Range(0, length).Select(_ => (float)rng.NextNormal())];
    }

    [Fact]
    public void TrainingOnTheDeviceIsDeterministic()
    {
        float[] Run()
        {
            var (network, data) = SmallProblem(seed: 9, dropout: 0.2);
            network.MoveTo(_device);
            new Trainer<float>(network, data, seed: 9).Train(2, batchSize: 3);
            network.MoveToHost();
            return [.. network.Parameters.SelectMany(p => p.Value.ToArray())];
        }
        Assert.Equal(Run(), Run());
    }

    [Fact]
    public void TheTrainerLearnsOnTheDeviceAndItsStatisticsAreThoseOfTheCopiedBackWeights()
    {
        var (network, data) = SmallProblem(seed: 2);
        network.MoveTo(_device);
        Assert.Equal(_device.Name, network.Device!.Name);
        var output = new StringWriter();
        var trainer = new Trainer<float>(network, data, seed: 2) { Output = output };
        var history = trainer.Train(5, batchSize: 4, verbose: true);
        Assert.Equal(6, history.Count);
        Assert.StartsWith("E: -1", output.ToString(), StringComparison.Ordinal);
        Assert.True(history.Final.TrainAccuracy > 0.9, $"train accuracy {history.Final.TrainAccuracy}");

        network.MoveToHost();
        Assert.Null(network.Device);
        var (loss, accuracy) = network.Evaluate(data, [.. trainer.TrainRows]);
        Assert.Equal(loss, history.Final.TrainLoss, 1e-5);
        Assert.Equal(accuracy, history.Final.TrainAccuracy, 1e-12);
    }

    [Fact]
    public void GradientsAndPredictionsOnTheDeviceMatchTheHost()
    {
        var (host, data) = SmallProblem(seed: 6);
        var (onDevice, _) = SmallProblem(seed: 6);
        onDevice.MoveTo(_device);
        var x = data.Features;
        var y = data.Targets;
        double hostLoss = host.ComputeGradients(x, y, out var hostDx);
        double deviceLoss = onDevice.ComputeGradients(x, y, out var deviceDx);
        Assert.Equal(hostLoss, deviceLoss, 1e-5);
        AssertClose(host.Gradients.ToArray(), onDevice.Gradients.ToArray(), 1e-5);
        AssertClose(hostDx.ToArray(), deviceDx.ToArray(), 1e-5);
        AssertClose(host.Predict(x).ToArray(), onDevice.Predict(x).ToArray(), 1e-5);
        onDevice.MoveToHost();
    }

    [Fact]
    public void Float64TrainsOnTheDeviceAsOnTheCpu()
    {
        Network<double> Make()
        {
            var network = new Network<double>(SeparableData.Features, SeparableData.Classes, Loss.CrossEntropy, 1e-3, seed: 4) { Optimizer = new Adam<double>(0.01) };
            network.AddLinear(8, regularization: true);
            network.AddBatchNorm();
            network.Add(new Gelu<double>(network.CurrentShape));
            network.AddLinear(SeparableData.Classes);
            network.AddSoftmax();
            return network;
        }
        var data = SeparableData.Create(seed: 4);
        var x = Matrix<double>.FromRows([.. Enumerable.Range(0, data.Count).Select(r => data.Features.Row(r).ToArray().Select(v => (double)v).ToArray())]);
        var y = Matrix<double>.FromRows([.. Enumerable.Range(0, data.Count).Select(r => data.Targets.Row(r).ToArray().Select(v => (double)v).ToArray())]);
        var host = Make();
        var onDevice = Make().MoveTo(_device);
        var expected = new Trainer<double>(host, x, y, seed: 4).Train(2, batchSize: 8);
        var actual = new Trainer<double>(onDevice, x, y, seed: 4).Train(2, batchSize: 8);
        onDevice.MoveToHost();
        for (int e = 0; e < expected.Count; e++) Assert.Equal(expected[e].TrainLoss, actual[e].TrainLoss, 1e-10);
        AssertClose(host.Parameters.SelectMany(p => p.Value.ToArray()).ToArray(), onDevice.Parameters.SelectMany(p => p.Value.ToArray()).ToArray(), 1e-10);
    }

    [Fact]
    public void ADivergingRunOnTheDeviceStopsWithTheLastGoodWeights()
    {
        var diverging = new Network<float>(SeparableData.Features, SeparableData.Classes, Loss.CrossEntropy, learningRate: 1e12, seed: 4);
        diverging.AddLinear(10);
        diverging.AddRelu();
        diverging.AddLinear(SeparableData.Classes);
        diverging.AddSoftmax();
        float[] initial = [.. diverging.Parameters.SelectMany(p => p.Value.ToArray())];
        diverging.MoveTo(_device);
        var trainer = new Trainer<float>(diverging, SeparableData.Create(seed: 4), seed: 4);

        var error = Assert.Throws<DivergenceException>(() => trainer.Train(3, batchSize: 4));
        Assert.Equal(0, error.Epoch);
        diverging.MoveToHost();
        Assert.Equal(initial, diverging.Parameters.SelectMany(p => p.Value.ToArray()));
    }

    [Fact]
    public void ACheckpointWrittenOnTheDeviceResumesThereBitForBit()
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "checkpoint.safetensors");
        (History History, float[] Weights) Run(int epochs, string? resumeFrom = null, Action<BatchProgress>? progress = null, CancellationToken cancel = default)
        {
            var (network, data) = SmallProblem(seed: 8, dropout: 0.2);
            network.Optimizer = new Adam<float>(0.01);
            var trainer = new Trainer<float>(network, data, seed: 8);
            if (resumeFrom is not null) trainer.Resume(resumeFrom);
            network.MoveTo(_device);
            var options = new TrainOptions
            {
                Epochs = epochs, BatchSize = 4, CheckpointPath = path, CheckpointEvery = 1,
                Progress = progress is null ? null : new SynchronousProgress<BatchProgress>(progress),
            };
            var history = trainer.Train(options, cancel);
            network.MoveToHost();
            return (history, [.. network.Parameters.SelectMany(p => p.Value.ToArray())]);
        }
        var straight = Run(3);
        using var cancel = new CancellationTokenSource();
        var first = Run(3, progress: p => { if (p is { Epoch: 1, Batch: 3 }) cancel.Cancel(); }, cancel: cancel.Token);
        Assert.Equal(StopReason.Cancelled, first.History.StopReason);
        var resumed = Run(3, resumeFrom: path);

        Assert.Equal(straight.History.Select(e => e with { Seconds = 0 }), resumed.History.Select(e => e with { Seconds = 0 }));
        Assert.Equal(straight.Weights, resumed.Weights);
    }

    [Fact]
    public void EarlyStoppingAScheduleAndATestSetRunOnTheDeviceAsOnTheCpu()
    {
        History Train(bool onDevice)
        {
            var (network, data) = SmallProblem(seed: 11);
            network.Optimizer = new SgdMomentum<float>(0.05, 0.9, nesterov: true);
            if (onDevice) network.MoveTo(_device);
            var trainer = new Trainer<float>(network, data, seed: 11) { TestSamples = SeparableData.Create(seed: 12, samples: 20) };
            var history = trainer.Train(new TrainOptions
            {
                Epochs = 6, BatchSize = 5,
                Schedule = new ScratchNet.Optimizers.Schedules.WarmupCosine(0.05, warmupEpochs: 1, totalEpochs: 6),
                EarlyStopping = new EarlyStopping(Patience: 1, Monitor: Metric.ValidationLoss, MinDelta: 0.05),
            });
            network.MoveToHost();
            return history;
        }
        var cpu = Train(onDevice: false);
        var device = Train(onDevice: true);
        Assert.Equal(cpu.Count, device.Count);
        Assert.Equal(cpu.StopReason, device.StopReason);
        Assert.Equal(cpu.BestEpoch, device.BestEpoch);
        for (int e = 0; e < cpu.Count; e++)
        {
            Assert.Equal(cpu[e].TestLoss, device[e].TestLoss, 1e-4);
            Assert.Equal(cpu[e].ValidationAccuracy, device[e].ValidationAccuracy, 1e-12);
        }
    }

    [Fact]
    public void ALayerWithoutADeviceHalfIsRefusedByName()
    {
        var network = new Network<float>(4, 4, Loss.L2);
        network.Add(new Doubling(4));
        Assert.Contains("layer 0 doubling", NetworkPlacement.WhyNotOnDevice(network), StringComparison.Ordinal);
        var error = Assert.Throws<DeviceException>(() => network.MoveTo(_device));
        Assert.Contains("has no device half", error.Message, StringComparison.Ordinal);
        Assert.Null(network.Device);
    }

    [Fact]
    public void LabelSmoothingParameterGroupsAndSgdWeightDecayNowMoveToTheDevice()
    {
        var (network, _) = SmallProblem(seed: 1);
        network.LabelSmoothing = 0.1;
        network.Parameters[1].LearningRateScale = 64;
        network.Parameters[1].WeightDecay = 0;
        network.Optimizer = new SgdMomentum<float>(0.1, 0.9, nesterov: true, weightDecay: 5e-4, decoupled: true);
        Assert.Null(NetworkPlacement.WhyNotOnDevice(network));
        network.MoveTo(_device);
        Assert.NotNull(network.Device);
        network.MoveToHost();
    }

    [Fact]
    public void WithoutAGpuCudaFailsWithATypedMessage()
    {
        if (GpuDevice.DescribeCudaDevices().Count > 0) return; // a machine with a GPU: info --check covers it
        var error = Assert.Throws<DeviceException>(() => GpuDevice.CreateCuda());
        Assert.Contains("CUDA", error.Message, StringComparison.Ordinal);
    }

    private static (Network<float>, Dataset<float>) SmallProblem(ulong seed, double dropout = 0) => (SeparableData.Network(seed, dropout), SeparableData.Create(seed));

    private static void AssertClose(float[] expected, float[] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        double difference = 0, norm = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            difference += (double)(expected[i] - actual[i]) * (expected[i] - actual[i]);
            norm += (double)expected[i] * expected[i];
        }
        Assert.True(Math.Sqrt(difference / Math.Max(norm, 1e-30)) <= tolerance, $"relative error {Math.Sqrt(difference / norm):E2}");
    }

    private static void AssertClose(double[] expected, double[] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        double difference = 0, norm = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            difference += (expected[i] - actual[i]) * (expected[i] - actual[i]);
            norm += expected[i] * expected[i];
        }
        Assert.True(Math.Sqrt(difference / norm) <= tolerance, $"relative error {Math.Sqrt(difference / norm):E2}");
    }

    // A layer only the host runs.
    private sealed class Doubling(int size) : Layer<float>(size, size)
    {
        private Matrix<float>? _output;

        public override string Kind => "doubling";

        protected override Matrix<float>? LastOutput => _output;

        protected override Matrix<float> ForwardCore(Matrix<float> input)
        {
            _output = input.Clone();
            foreach (ref float v in _output.Span) v *= 2;
            return _output;
        }

        protected override Matrix<float> BackwardCore(Matrix<float> outputGradient)
        {
            var dx = outputGradient.Clone();
            foreach (ref float v in dx.Span) v *= 2;
            return dx;
        }
    }

    private sealed class SynchronousProgress<TValue>(Action<TValue> report) : IProgress<TValue>
    {
        public void Report(TValue value) => report(value);
    }
}
