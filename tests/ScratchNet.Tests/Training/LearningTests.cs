using System.Numerics;
using ScratchNet.Data;
using ScratchNet.Losses;
using ScratchNet.Training;

namespace ScratchNet.Tests.Training;

/// <summary>
/// End-to-end acceptance: the networks learn. Seeds are fixed; the bounds were checked to hold with
/// margin over seeds 0..4 (linear after 10 epochs: validation accuracy 0.9935..0.999, after 1 epoch
/// 0.989..0.9955; digits: 0.966..0.978).
/// </summary>
public class LearningTests
{
    [Fact]
    public void ReportLinearExperimentLearnsInFloat()
    {
        var history = RunReportLinearExperiment<float>(epochs: 10);
        Assert.True(history.Final.ValidationAccuracy >= 0.99, history.Final.ToReportLine());
        Assert.True(history.Final.ValidationLoss < history[0].ValidationLoss / 10, $"{history[0].ToReportLine()}\n{history.Final.ToReportLine()}");
    }

    /// <summary>
    /// The report's section 3 prints final losses of 0.0032 (train) and 0.0026 (validation), ScratchNet ~0.048: ours
    /// include the penalty λ·ΣW², the report's do not. A ReLU net o(x) that fits the 90° turn R has Jacobian
    /// W₂DW₁ with ‖W₂DW₁‖_* ≤ ‖W₂‖_F‖W₁‖_F ≤ ΣW²/2, and for x ~ N(0, I) E[∇o] = E[o xᵀ] (Stein), which is within
    /// √(2·data loss) of R (Frobenius); so ΣW² ≥ 2(‖R‖_* − 2√data loss) = 2(2 − 2√data loss) ≥ 3.7 at data
    /// loss ≤ 0.005, and with λ = 0.01 a loss that counted the penalty could not drop below 0.037.
    /// Validation accuracy is argmax over the two regression outputs, so it turns on the handful of points
    /// near the line x₁ = −x₂: over seeds 0..23 the report's recipe ends at 0.993..1.0, median 0.9985
    /// (the report's own printed value, which its Statistics block rounds to 0.999), ≥ 0.999 for 8 of 24
    /// seeds; hence 0.99 here, not 0.999.
    /// </summary>
    [Fact]
    public void ReportLinearExperimentMatchesTheReportsPenaltyFreeLoss()
    {
        var (history, network) = TrainReportLinearExperiment<float>(epochs: 10, seed: 0);
        double penalty = network.RegularizationPenalty();
        double validationDataLoss = history.Final.ValidationLoss - penalty;
        string line = $"{history.Final.ToReportLine()}; penalty {penalty}";
        Assert.True(history.Final.ValidationAccuracy >= 0.99, line);
        Assert.InRange(penalty, 0.037, 0.06);                    // ΣW² ≈ 4.4
        Assert.InRange(validationDataLoss, 0, 0.01);              // report: 0.0026; `scratchnet report`: 0.0055
        Assert.InRange(history.Final.TrainLoss - penalty, 0, 0.01); // report: 0.0032
    }

    [Fact]
    public void ReportLinearExperimentLearnsInDouble()
    {
        // The shorter check: one epoch of the same run (float gets there too; the last nine epochs polish).
        var history = RunReportLinearExperiment<double>(epochs: 1);
        Assert.True(history.Final.ValidationAccuracy >= 0.98, history.Final.ToReportLine());
        Assert.True(history.Final.ValidationLoss < history[0].ValidationLoss / 10, $"{history[0].ToReportLine()}\n{history.Final.ToReportLine()}");
    }

    [Fact]
    public void DigitsMlpReachesNinetyFivePercent()
    {
        var data = Digits.Load<float>();
        var net = new Network<float>(Digits.Features, Digits.Classes, Loss.CrossEntropy, learningRate: 0.1, seed: 0);
        net.AddLinear(128);
        net.AddRelu();
        net.AddLinear(64);
        net.AddRelu();
        net.AddLinear(Digits.Classes);
        net.AddSoftmax();
        var trainer = new Trainer<float>(net, data.Features, data.Targets, validationFraction: 0.2, stratify: true, seed: 0);

        var history = trainer.Train(epochs: 20, batchSize: 32);

        Assert.True(history.Final.ValidationAccuracy >= 0.95, history.Final.ToReportLine());
        Assert.True(history.Final.ValidationLoss < history[0].ValidationLoss / 4, $"{history[0].ToReportLine()}\n{history.Final.ToReportLine()}");
    }

    // The report's first experiment: 10,000 rotated points, 2-10-2 with ReLU, L2 loss, λ = 0.01, lr 0.001,
    // 80/20 split, single-sample SGD (the report runs 10 epochs).
    private static History RunReportLinearExperiment<T>(int epochs) where T : unmanaged, IFloatingPointIeee754<T> =>
        TrainReportLinearExperiment<T>(epochs, seed: 1).History;

    private static (History History, Network<T> Network) TrainReportLinearExperiment<T>(int epochs, ulong seed) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var data = ToyData.Linear<T>(10_000, seed);
        var net = new Network<T>(2, 2, Loss.L2, regularizationFactor: 0.01, learningRate: 0.001, seed);
        net.AddLinear(10, w: 0.05, regularization: true);
        net.AddRelu();
        net.AddLinear(2, w: 0.05, regularization: true);
        var trainer = new Trainer<T>(net, data.Features, data.Targets, validationFraction: 0.2, seed: seed);
        Assert.Equal(8_000, trainer.TrainRows.Count);
        Assert.Equal(2_000, trainer.ValidationRows.Count);

        var history = trainer.Train(epochs, batchSize: 1);

        Assert.Equal(epochs + 1, history.Count);
        return (history, net);
    }
}
