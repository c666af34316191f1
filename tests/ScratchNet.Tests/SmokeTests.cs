using ScratchNet.Data;
using ScratchNet.Losses;
using ScratchNet.Training;

namespace ScratchNet.Tests;

public class SmokeTests
{
    [Fact]
    public void ReportLinearExperimentLearns()
    {
        var data = ToyData.Linear<float>(10_000, seed: 1);
        var net = new Network<float>(2, 2, Loss.L2, regularizationFactor: 0.01, learningRate: 0.001, seed: 1);
        net.AddLinear(10, w: 0.05, regularization: true);
        net.AddRelu();
        net.AddLinear(2, w: 0.05, regularization: true);
        var trainer = new Trainer<float>(net, data.Features, data.Targets, seed: 1);
        var history = trainer.Train(10, 1, verbose: true);
        Assert.True(history.Final.ValidationAccuracy >= 0.99, history.Final.ToReportLine());
    }
}
