using System.Runtime.InteropServices;
using ScratchNet.Compute;
using ScratchNet.Data;
using ScratchNet.Losses;
using ScratchNet.Tests.Compute;
using ScratchNet.Training;

namespace ScratchNet.Tests.Training;

/// <summary>
/// A training run is a function of its seeds: bit-identical history (seconds aside) and final weights for
/// the same seeds, whatever <see cref="Threading.ThreadCount"/> is; different seeds give a different run.
/// The GEMMs are big enough to split between threads: a training step's first layer is 100 · 64 · 128 ≈ 819k
/// multiply-adds (3 parts of ≥ 2¹⁸), evaluation runs 1,024-row chunks; 1,437 training rows leave a last batch of 37.
/// </summary>
[Collection(GlobalStateCollection.Name)]
public class TrainerDeterminismTests
{
    private static readonly Dataset<float> Data = Digits.Load<float>();

    [Fact]
    public void SameSeedGivesBitIdenticalRunsWhateverTheThreadCount()
    {
        var reference = Run(networkSeed: 1, trainerSeed: 1, threads: 1);
        foreach (int threads in new[] { 1, 2, 3 })
        {
            var run = Run(networkSeed: 1, trainerSeed: 1, threads);
            Assert.Equal(reference.History, run.History);
            Assert.Equal(reference.Weights, run.Weights);
        }
    }

    [Fact]
    public void DifferentTrainerSeedGivesADifferentRun()
    {
        var a = Run(networkSeed: 1, trainerSeed: 1, threads: 2);
        var b = Run(networkSeed: 1, trainerSeed: 2, threads: 2);
        Assert.NotEqual(a.History, b.History);
        Assert.NotEqual(a.Weights, b.Weights);
    }

    [Fact]
    public void DifferentNetworkSeedGivesADifferentRun()
    {
        var a = Run(networkSeed: 1, trainerSeed: 1, threads: 2);
        var b = Run(networkSeed: 2, trainerSeed: 1, threads: 2);
        Assert.NotEqual(a.History[..5], b.History[..5]);   // epoch −1 already differs: different initial weights
        Assert.NotEqual(a.Weights, b.Weights);
    }

    // Each statistic as its bit pattern (seconds left out), and every parameter's bytes.
    private static (long[] History, byte[] Weights) Run(ulong networkSeed, ulong trainerSeed, int threads)
    {
        using var scope = new ThreadCountScope(threads);
        var net = new Network<float>(Digits.Features, Digits.Classes, Loss.CrossEntropy, regularizationFactor: 1e-4, learningRate: 0.1, seed: networkSeed);
        net.AddLinear(128, regularization: true);
        net.AddRelu();
        net.AddLinear(Digits.Classes, regularization: true);
        net.AddSoftmax();
        var trainer = new Trainer<float>(net, Data.Features, Data.Targets, stratify: true, seed: trainerSeed);
        var history = trainer.Train(epochs: 2, batchSize: 100);
        long[] stats = [.. history.SelectMany(e => new[] { e.Epoch, e.TrainLoss, e.TrainAccuracy, e.ValidationLoss, e.ValidationAccuracy }).Select(BitConverter.DoubleToInt64Bits)];
        byte[] weights = [.. net.Parameters.SelectMany(p => MemoryMarshal.AsBytes(p.Value.Span).ToArray())];
        return (stats, weights);
    }
}
