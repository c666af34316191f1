using ScratchNet.Compute;
using ScratchNet.Losses;
using ScratchNet.Optimizers;

namespace ScratchNet.Tests.Compute;

[Collection(GlobalStateCollection.Name)]
[Trait("Category", "Kernels")]
public class FusedTrainingTests
{
    private static Network<float> ReportNetwork(int inputs, ulong seed)
    {
        var net = new Network<float>(inputs, 10, Loss.CrossEntropy, regularizationFactor: 1e-4, learningRate: 0.01, seed: seed);
        net.AddLinear(80, w: 0.05, regularization: true); net.AddRelu();
        net.AddLinear(30, w: 0.1, regularization: true); net.AddRelu();
        net.AddLinear(10, w: 0.3, regularization: true); net.AddSoftmax();
        return net;
    }

    private static (Matrix<float> X, Matrix<float> Y) Data(int rows, int inputs)
    {
        var rng = new Rng(21);
        var x = KernelAssert.Random<float>(rows, inputs, rng);
        var y = new Matrix<float>(rows, 10);
        for (int r = 0; r < rows; r++) y[r, rng.NextInt(10)] = 1;
        return (x, y);
    }

    // The plain path: gradients through the tape, then the optimiser's separate update.
    private sealed class PlainSgd(double learningRate) : IOptimizer<float>
    {
        private readonly Sgd<float> _sgd = new(learningRate);
        public void Step(IReadOnlyList<Layers.Parameter<float>> parameters) => _sgd.Step(parameters);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(16)]
    public void FusedStepsGiveThePlainPathsWeightsAfter100Steps(int batch)
    {
        var (x, y) = Data(100 * batch, 50);
        var fused = ReportNetwork(50, 1);
        var plain = ReportNetwork(50, 1);
        plain.Optimizer = new PlainSgd(0.01);
        var xb = new Matrix<float>(batch, 50);
        var yb = new Matrix<float>(batch, 10);
        for (int step = 0; step < 100; step++)
        {
            var rows = Enumerable.Range(step * batch, batch).ToArray();
            xb = x.GatherRows(rows);
            yb = y.GatherRows(rows);
            double fusedLoss = fused.TrainStep(xb, yb);
            double plainLoss = plain.TrainStep(xb, yb);
            Assert.True(Math.Abs(fusedLoss - plainLoss) <= 1e-5 * Math.Max(1, plainLoss), $"step {step}: loss {fusedLoss} vs {plainLoss}");
        }
        for (int p = 0; p < fused.Parameters.Count; p++)
            KernelAssert.Close<float>(plain.Parameters[p].Value.Span, fused.Parameters[p].Value.Span, 1e-5, $"parameter {p}");
    }

    [Fact]
    public void ReadingAWeightNeverChangesItAndAPublicStepLeavesNothingPending()
    {
        var (x, y) = Data(4, 50);
        var net = ReportNetwork(50, 3);
        var first = (Layers.Linear<float>)net.Layers[0];
        net.TrainStep(x.GatherRows([0]), y.GatherRows([0]));
        Assert.Null(first.PendingStep);   // a public step is complete

        net.DeferSteps = true;            // as inside the trainer's epochs
        net.TrainStep(x.GatherRows([1]), y.GatherRows([1]));
        Assert.NotNull(first.PendingStep);
        float[] read1 = first.Weight.Value.ToArray(), read2 = first.Weight.Value.ToArray();
        Assert.Equal(read1, read2);       // reading applies nothing
        net.FinishDeferredSteps();        // the owner of the run finishes it, explicitly
        Assert.Null(first.PendingStep);
        Assert.NotEqual(read1, first.Weight.Value.ToArray());
        net.DeferSteps = false;
    }

    [Fact]
    public void FusedTrainingIsIdenticalAcrossThreadCounts()
    {
        var (x, y) = Data(40, 600);
        float[][]? reference = null;
        foreach (int threads in new[] { 1, 2, 3 })
        {
            using var scope = new ThreadCountScope(threads);
            var net = ReportNetwork(600, 2);
            for (int step = 0; step < 40; step++) net.TrainStep(x.GatherRows([step]), y.GatherRows([step]));
            var weights = net.Parameters.Select(p => p.Value.ToArray()).ToArray();
            reference ??= weights;
            for (int p = 0; p < weights.Length; p++) Assert.True(reference[p].AsSpan().SequenceEqual(weights[p]), $"{threads} threads: parameter {p} differs");
        }
    }

    // Counted on the calling thread (the test runner's own threads allocate as they please): with one
    // kernel thread every kernel runs there too; with two, the dispatch to the worker is covered.
    [Theory]
    [InlineData(1, 1)]
    [InlineData(64, 1)]
    [InlineData(1, 2)]
    [InlineData(64, 2)]
    public void ATrainingStepAllocatesNothingOnceWarm(int batch, int threads)
    {
        using var scope = new ThreadCountScope(threads);
        var (x, y) = Data(batch, 784);
        var net = ReportNetwork(784, 3);
        for (int i = 0; i < 30; i++) net.TrainStep(x, y);   // warm: tiered JIT, pinned packing buffers, worker wait handles

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++) net.TrainStep(x, y);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
    }
}
