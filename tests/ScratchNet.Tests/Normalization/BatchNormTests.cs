using ScratchNet.Layers;
using Xunit.Abstractions;
using static ScratchNet.Tests.Gradients.GradientCheck;

namespace ScratchNet.Tests.Normalization;

/// <summary>BatchNorm1d: hand-derived backward against central differences, running statistics, train vs eval.</summary>
public class BatchNormTests(ITestOutputHelper output)
{
    private static BatchNorm1d<double> Layer(Rng rng, int size, bool training)
    {
        var layer = new BatchNorm1d<double>(size) { Training = training };
        // γ, β and the running estimates away from their defaults, so that every term of the gradient shows.
        foreach (ref double v in layer.Weight.Value.Span) v = 1 + 0.5 * rng.NextNormal();
        foreach (ref double v in layer.Bias.Value.Span) v = 0.3 * rng.NextNormal();
        foreach (ref double v in layer.RunningMean.Span) v = 0.2 * rng.NextNormal();
        foreach (ref double v in layer.RunningVariance.Span) v = 0.5 + rng.NextDouble();
        return layer;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void GradientsMatchFiniteDifferences(bool training)
    {
        var rng = new Rng(900 + (training ? 1UL : 0UL));
        var layer = Layer(rng, 4, training);
        var x = Normal(rng, 5, 4, 2);
        foreach (ref double v in x.Span) v += 1;   // a mean away from zero
        var g = Normal(rng, 5, 4);                 // random upstream gradient
        double F() => Dot(layer.Forward(x), g);    // running statistics move, but a training output does not read them

        layer.Forward(x);
        foreach (var p in layer.Parameters) p.ZeroGradient();
        var dx = layer.Backward(g).ToArray();
        string mode = training ? "train" : "eval";
        double worst = Check($"batchnorm {mode} d/dx", F, x, dx);
        foreach (var p in layer.Parameters)
            worst = Math.Max(worst, Check($"batchnorm {mode} d/d{p.Name}", F, p.Value, p.Gradient.Span));
        output.WriteLine($"batchnorm {mode} B=5: worst relative error {worst:E2}");
    }

    [Fact]
    public void TrainingNormalisesByTheBatchAndUpdatesRunningStatisticsAsPyTorch()
    {
        var rng = new Rng(910);
        var layer = new BatchNorm1d<double>(3, momentum: 0.2) { Training = true };
        var x = Normal(rng, 6, 3, 3);
        var y = layer.Forward(x);
        for (int j = 0; j < 3; j++)
        {
            double mean = 0, squares = 0, outMean = 0, outSquares = 0;
            for (int r = 0; r < 6; r++) mean += x[r, j] / 6;
            for (int r = 0; r < 6; r++)
            {
                squares += (x[r, j] - mean) * (x[r, j] - mean);
                outMean += y[r, j] / 6;
            }
            for (int r = 0; r < 6; r++) outSquares += y[r, j] * y[r, j] / 6;
            Assert.Equal(0, outMean, 1e-12);                            // γ = 1, β = 0
            Assert.Equal(squares / 6 / (squares / 6 + 1e-5), outSquares, 1e-12);   // biased variance, ε inside
            Assert.Equal(0.8 * 0 + 0.2 * mean, layer.RunningMean[0, j], 1e-14);
            Assert.Equal(0.8 * 1 + 0.2 * squares / 5, layer.RunningVariance[0, j], 1e-14);   // unbiased
        }
    }

    [Fact]
    public void EvalUsesRunningStatisticsDeterministicallyAndDiffersFromTraining()
    {
        var rng = new Rng(920);
        var layer = Layer(rng, 4, training: false);
        var x = Normal(rng, 5, 4);
        var mean = layer.RunningMean.ToArray();
        var variance = layer.RunningVariance.ToArray();
        var eval = layer.Forward(x).ToArray();
        Assert.Equal(eval, layer.Forward(x).ToArray());
        Assert.Equal(mean, layer.RunningMean.ToArray());            // eval leaves the running estimates alone
        Assert.Equal(variance, layer.RunningVariance.ToArray());
        for (int r = 0; r < 5; r++)
            for (int j = 0; j < 4; j++)
            {
                double expected = layer.Weight.Value[0, j] * (x[r, j] - mean[j]) / Math.Sqrt(variance[j] + 1e-5) + layer.Bias.Value[0, j];
                Assert.Equal(expected, eval[r * 4 + j], 1e-12);
            }
        layer.Training = true;
        var train = layer.Forward(x).ToArray();
        Assert.NotEqual(eval, train);
        Assert.NotEqual(mean, layer.RunningMean.ToArray());
    }

    [Fact]
    public void TrainingRefusesABatchOfOne()
    {
        var layer = new BatchNorm1d<double>(3) { Training = true };
        Assert.Throws<ArgumentException>(() => layer.Forward(new Matrix<double>(1, 3)));
        layer.Training = false;
        layer.Forward(new Matrix<double>(1, 3));
    }

    [Fact]
    public void GammaAndBetaAreNeverRegularised()
    {
        var layer = new BatchNorm1d<float>(3);
        Assert.All(layer.Parameters, p => Assert.False(p.Regularized));
        Assert.Equal(["weight", "bias"], layer.Parameters.Select(p => p.Name));
    }

    [Theory]
    [InlineData(-0.1, 1e-5)]
    [InlineData(1.5, 1e-5)]
    [InlineData(0.1, 0)]
    public void RejectsBadHyperparameters(double momentum, double epsilon) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchNorm1d<double>(3, momentum, epsilon));
}
