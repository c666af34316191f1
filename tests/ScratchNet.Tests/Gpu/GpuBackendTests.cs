using ScratchNet.Data;
using ScratchNet.Gpu;
using ScratchNet.Gpu.Backends;
using ScratchNet.Gpu.Diagnostics;
using ScratchNet.Losses;
using ScratchNet.Optimizers;
using ScratchNet.Training;
using Xunit;

namespace ScratchNet.Tests.Gpu;

/// <summary>
/// The GPU kernels, run by ILGPU's CPU accelerator (the same C# kernels, 32-lane warps simulated), against
/// the CPU backend and the core trainer. On a machine with a GPU, <c>bench/gpu-check.sh</c> runs the same
/// <see cref="ParityCheck"/> against CUDA.
/// </summary>
[Collection(GlobalStateCollection.Name)]
public sealed class GpuBackendTests : IClassFixture<GpuBackendTests.Simulator>
{
    private readonly IlgpuBackend _simulator;

    public GpuBackendTests(Simulator simulator) => _simulator = simulator.Backend;

    public sealed class Simulator : IDisposable
    {
        public IlgpuBackend Backend { get; } = IlgpuBackend.CreateCpuSimulator();

        public void Dispose() => Backend.Dispose();
    }

    [Fact]
    public void EveryKernelMatchesTheCpuBackend()
    {
        using var cpu = new CpuBackend();
        var results = ParityCheck.Kernels(cpu, _simulator, seed: 3, fullSize: false);
        Assert.True(results.Count > 60, $"only {results.Count} comparisons ran");
        Assert.All(results, r => Assert.True(r.Passed, $"{r.Name}: relative error {r.RelativeError:E2}"));
    }

    [Theory]
    [InlineData(1, Loss.CrossEntropy)]
    [InlineData(4, Loss.CrossEntropy)]
    [InlineData(8, Loss.L2)]
    [InlineData(16, Loss.CrossEntropy)]
    public void TrainingTwentyStepsOnTheSimulatorMatchesTheCoreTrainer(int batchSize, Loss loss)
    {
        var results = ParityCheck.Training(_simulator, steps: 20, batchSize, loss, seed: 5);
        Assert.All(results, r => Assert.True(r.Passed, $"{r.Name}: relative error {r.RelativeError:E2}"));
    }

    [Fact]
    public void TrainingOnTheCpuBackendMatchesTheCoreTrainer()
    {
        using var cpu = new CpuBackend();
        var results = ParityCheck.Training(cpu, steps: 20, batchSize: 4, Loss.CrossEntropy, seed: 6);
        Assert.All(results, r => Assert.True(r.Passed, $"{r.Name}: relative error {r.RelativeError:E2}"));
    }

    [Fact]
    public void TheParityCheckCatchesAWrongKernel()
    {
        // A backend whose forward pass forgets the bias must fail the check: the comparison can fail.
        using var cpu = new CpuBackend();
        using var broken = new BiasDroppingBackend();
        var results = ParityCheck.Kernels(cpu, broken, seed: 3, fullSize: false);
        Assert.Contains(results, r => r.Name.StartsWith("linear forward", StringComparison.Ordinal) && !r.Passed);
        Assert.All(results.Where(r => r.Name.StartsWith("linear sgd", StringComparison.Ordinal)), r => Assert.True(r.Passed));
    }

    [Fact]
    public void DeviceTrainingIsDeterministic()
    {
        float[] Run()
        {
            var (network, data) = SmallProblem(seed: 9);
            using var trainer = new DeviceTrainer(network, data, _simulator, seed: 9) { Output = TextWriter.Null };
            trainer.Train(2, batchSize: 3);
            return [.. network.Parameters.SelectMany(p => p.Value.ToArray())];
        }
        Assert.Equal(Run(), Run());
    }

    [Fact]
    public void DeviceTrainerLearnsAndPrintsTheReportLines()
    {
        var (network, data) = SmallProblem(seed: 2);
        var output = new StringWriter();
        using var trainer = new DeviceTrainer(network, data, _simulator, seed: 2) { Output = output };
        var history = trainer.Train(5, batchSize: 4, verbose: true);
        Assert.Equal(6, history.Count);
        Assert.StartsWith("E: -1", output.ToString(), StringComparison.Ordinal);
        Assert.True(history.Final.TrainLoss < history[0].TrainLoss, $"loss {history[0].TrainLoss} -> {history.Final.TrainLoss}");
        Assert.True(history.Final.TrainAccuracy > 0.9, $"train accuracy {history.Final.TrainAccuracy}");
        // The statistics computed on the device agree with the core's evaluation of the copied-back weights.
        var (loss, accuracy) = network.Evaluate(data, [.. trainer.TrainRows]);
        Assert.Equal(loss, history.Final.TrainLoss, 1e-5);
        Assert.Equal(accuracy, history.Final.TrainAccuracy, 1e-12);
    }

    [Fact]
    public void ADivergingRunStopsWithTheLastGoodWeights()
    {
        var (network, data) = SmallProblem(seed: 4);
        var diverging = new Network<float>(network.Inputs, network.Outputs, Loss.CrossEntropy, learningRate: 1e12, seed: 4);
        diverging.AddLinear(10);
        diverging.AddRelu();
        diverging.AddLinear(network.Outputs);
        diverging.AddSoftmax();
        float[] initial = [.. diverging.Parameters.SelectMany(p => p.Value.ToArray())];
        using var trainer = new DeviceTrainer(diverging, data, _simulator, seed: 4) { Output = TextWriter.Null };

        var error = Assert.Throws<DivergenceException>(() => trainer.Train(3, batchSize: 4));
        Assert.Equal(0, error.Epoch);
        Assert.Single(error.History!); // epoch −1 only
        Assert.Equal(initial, diverging.Parameters.SelectMany(p => p.Value.ToArray()));
    }

    [Fact]
    public void LayersAndOptimisersWithoutADevicePathAreRefusedByName()
    {
        var withDropout = new Network<float>(4, 2, Loss.CrossEntropy);
        withDropout.AddLinear(8);
        withDropout.AddDropout(0.5);
        withDropout.AddLinear(2);
        withDropout.AddSoftmax();
        Assert.Contains("dropout", DeviceNetwork.WhyUnsupported(withDropout), StringComparison.Ordinal);

        var withAdam = new Network<float>(4, 2, Loss.L2) { };
        withAdam.AddLinear(2);
        withAdam.Optimizer = new Adam<float>(1e-3);
        Assert.Contains("Adam", DeviceNetwork.WhyUnsupported(withAdam), StringComparison.Ordinal);

        var softmaxIntoL2 = new Network<float>(4, 2, Loss.L2);
        softmaxIntoL2.AddLinear(2);
        softmaxIntoL2.AddSoftmax();
        Assert.NotNull(DeviceNetwork.WhyUnsupported(softmaxIntoL2));

        var (network, data) = SmallProblem(seed: 1);
        network.Optimizer = new Adam<float>(1e-3);
        Assert.Throws<DeviceException>(() => new DeviceTrainer(network, data, _simulator));
    }

    [Fact]
    public void WithoutAGpuCudaFailsWithATypedMessage()
    {
        if (IlgpuBackend.DescribeCudaDevices().Count > 0) return; // a machine with a GPU: the bench's device check covers it
        var error = Assert.Throws<DeviceException>(() => IlgpuBackend.CreateCuda());
        Assert.Contains("CUDA", error.Message, StringComparison.Ordinal);
    }

    private static (Network<float>, Dataset<float>) SmallProblem(ulong seed) => (SeparableData.Network(seed), SeparableData.Create(seed));

    // The CPU backend with one planted bug, to show that ParityCheck notices.
    private sealed class BiasDroppingBackend : IBackend
    {
        private readonly CpuBackend _inner = new();

        public string Name => "broken";
        public DeviceBuffer<T> Allocate<T>(long length) where T : unmanaged => _inner.Allocate<T>(length);
        public void Upload<T>(ReadOnlySpan<T> source, DeviceBuffer<T> target, long offset = 0) where T : unmanaged => _inner.Upload(source, target, offset);
        public void Download<T>(DeviceBuffer<T> source, Span<T> target, long offset = 0) where T : unmanaged => _inner.Download(source, target, offset);
        public void Fill(DeviceBuffer<double> buffer, double value) => _inner.Fill(buffer, value);
        public void GatherBatch(DeviceBuffer<float> allX, int features, DeviceBuffer<float> allY, int targets, DeviceBuffer<int> order, int first, int rows, DeviceBuffer<float> x, DeviceBuffer<float> y) =>
            _inner.GatherBatch(allX, features, allY, targets, order, first, rows, x, y);
        public void LinearForward(DeviceBuffer<float> x, int rows, int inputs, DeviceBuffer<float> weight, DeviceBuffer<float> bias, int outputs, DeviceActivation activation, DeviceBuffer<float> output)
        {
            using var zero = _inner.Allocate<float>(outputs);
            _inner.Upload<float>(new float[outputs], zero);
            _inner.LinearForward(x, rows, inputs, weight, zero, outputs, activation, output);
        }
        public void LinearInputGradient(DeviceBuffer<float> outputGradient, int rows, int outputs, DeviceBuffer<float> weight, int inputs, DeviceActivation inputActivation, DeviceBuffer<float> input, DeviceBuffer<float> inputGradient) =>
            _inner.LinearInputGradient(outputGradient, rows, outputs, weight, inputs, inputActivation, input, inputGradient);
        public void LinearSgdStep(DeviceBuffer<float> outputGradient, DeviceBuffer<float> input, int rows, int outputs, int inputs, DeviceBuffer<float> weight, DeviceBuffer<float> bias, float learningRate, float keep) =>
            _inner.LinearSgdStep(outputGradient, input, rows, outputs, inputs, weight, bias, learningRate, keep);
        public void SoftmaxCrossEntropy(DeviceBuffer<float> logits, DeviceBuffer<float> targets, int rows, int cols, DeviceActivation logitActivation, float gradientScale, DeviceBuffer<float>? logitGradient, DeviceBuffer<float> rowLoss, DeviceBuffer<float> rowCorrect) =>
            _inner.SoftmaxCrossEntropy(logits, targets, rows, cols, logitActivation, gradientScale, logitGradient, rowLoss, rowCorrect);
        public void SquaredError(DeviceBuffer<float> output, DeviceBuffer<float> targets, int rows, int cols, DeviceActivation outputActivation, float gradientScale, DeviceBuffer<float>? gradient, DeviceBuffer<float> rowLoss, DeviceBuffer<float> rowCorrect) =>
            _inner.SquaredError(output, targets, rows, cols, outputActivation, gradientScale, gradient, rowLoss, rowCorrect);
        public void AccumulateSum(DeviceBuffer<float> values, long count, DeviceBuffer<double> sums, int slot) => _inner.AccumulateSum(values, count, sums, slot);
        public void AccumulateSquares(DeviceBuffer<float> values, long count, DeviceBuffer<double> sums, int slot) => _inner.AccumulateSquares(values, count, sums, slot);
        public void Synchronize() => _inner.Synchronize();
        public void Dispose() => _inner.Dispose();
    }
}
