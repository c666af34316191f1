using ScratchNet.Compute;
using ScratchNet.Data;
using ScratchNet.Layers;
using ScratchNet.Losses;
using ScratchNet.Optimizers;

namespace ScratchNet.Tests.Normalization;

/// <summary>The network puts its layers in training mode only while it trains.</summary>
public class TrainingModeTests
{
    // Records the mode each forward pass ran in.
    private sealed class ModeProbe(int size) : Activation<double>(size)
    {
        public List<bool> Modes { get; } = [];
        public override string Kind => "probe";
        protected override void Activate(Matrix<double> input, Matrix<double> output)
        {
            Modes.Add(Training);
            input.Span.CopyTo(output.Span);
        }
        protected override void Backpropagate(Matrix<double> output, Matrix<double> outputGradient, Matrix<double> inputGradient) =>
            outputGradient.Span.CopyTo(inputGradient.Span);
    }

    private static (Network<double> Net, ModeProbe Probe, Matrix<double> X, Matrix<double> Y) Net(bool sgd)
    {
        var net = new Network<double>(6, 3, Loss.CrossEntropy, seed: 2);
        if (!sgd) net.Optimizer = new Adam<double>(1e-3);
        net.AddLinear(8);
        net.AddBatchNorm();
        net.AddRelu();
        var probe = net.Add(new ModeProbe(8));
        net.AddDropout(0.5);
        net.AddLinear(3);
        net.AddSoftmax();
        var x = new Matrix<double>(4, 6);
        for (int i = 0; i < x.Length; i++) x.Span[i] = Math.Sin(i);
        return (net, probe, x, Dataset<double>.OneHot([0, 1, 2, 1], 3));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TrainingRunsInTrainingModeAndPredictAndEvaluateDoNot(bool sgd)
    {
        var (net, probe, x, y) = Net(sgd);
        net.TrainStep(x, y);
        net.ComputeGradients(x, y, out _);
        net.Predict(x);
        net.Evaluate(x, y);
        Assert.Equal([true, true, false, false], probe.Modes);
        Assert.All(net.Layers, l => Assert.False(l.Training));   // restored after training
    }

    [Fact]
    public void PredictIsDeterministicAndDiffersFromATrainingForwardPass()
    {
        var (net, _, x, y) = Net(sgd: true);
        for (int i = 0; i < 5; i++) net.TrainStep(x, y);
        var first = net.Predict(x).ToArray();
        Assert.Equal(first, net.Predict(x).ToArray());
        Assert.Equal(net.Evaluate(x, y), net.Evaluate(x, y));
        foreach (var layer in net.Layers) layer.Training = true;
        var trained = new Matrix<double>(4, 6, x.Span);
        var output = trained;
        foreach (var layer in net.Layers) output = layer.Forward(output);
        Assert.NotEqual(first, output.ToArray());
    }

    [Fact]
    public void TrainingWithBatchNormAndDropoutLowersTheLoss()
    {
        var (net, _, x, y) = Net(sgd: true);
        double before = net.Evaluate(x, y).Loss;
        for (int i = 0; i < 300; i++) net.TrainStep(x, y);
        Assert.True(net.Evaluate(x, y).Loss < before, $"loss {before} -> {net.Evaluate(x, y).Loss}");
    }
}

/// <summary>A warm step through batch norm and dropout allocates nothing (one kernel thread, run alone).</summary>
[Collection(GlobalStateCollection.Name)]
public class NormalizationAllocationTests
{
    [Fact]
    public void AWarmTrainStepAllocatesNothing()
    {
        int saved = Threading.ThreadCount;
        try
        {
            Threading.ThreadCount = 1;
            var net = new Network<double>(8, 3, Loss.CrossEntropy, regularizationFactor: 1e-3, seed: 1);
            net.AddLinear(16, regularization: true);
            net.AddBatchNorm();
            net.AddRelu();
            net.AddDropout(0.2);
            net.AddLinear(3, regularization: true);
            net.AddSoftmax();
            var x = new Matrix<double>(4, 8);
            for (int i = 0; i < x.Length; i++) x.Span[i] = Math.Sin(i);
            var y = Dataset<double>.OneHot([0, 1, 2, 1], 3);
            for (int i = 0; i < 30; i++) net.TrainStep(x, y);

            Assert.Equal(0, Allocations.Least(() =>
            {
                for (int i = 0; i < 20; i++) net.TrainStep(x, y);
            }));
        }
        finally
        {
            Threading.ThreadCount = saved;
        }
    }
}
