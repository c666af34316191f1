using ScratchNet.Layers;
using static ScratchNet.Tests.Gradients.GradientCheck;

namespace ScratchNet.Tests.Normalization;

/// <summary>Dropout: the mask, its scale and keep fraction, backward through the same mask, train vs eval.</summary>
public class DropoutTests
{
    [Fact]
    public void TrainingKeepsAboutOneMinusPScaledAndBackwardUsesTheSameMask()
    {
        const double rate = 0.3;
        var rng = new Rng(1000);
        var layer = new Dropout<double>(500, rate, seed: 5) { Training = true };
        var x = Normal(rng, 200, 500);
        var y = layer.Forward(x).ToArray();
        var mask = layer.Mask.ToArray();
        var g = Normal(rng, 200, 500);
        var dx = layer.Backward(g).ToArray();

        int kept = 0;
        for (int i = 0; i < mask.Length; i++)
        {
            Assert.True(mask[i] == 0 || mask[i] == 1 / (1 - rate), $"mask[{i}] = {mask[i]}");
            if (mask[i] != 0) kept++;
            Assert.Equal(x.Span[i] * mask[i], y[i]);
            Assert.Equal(g.Span[i] * mask[i], dx[i]);
        }
        // 100 000 draws: the keep fraction's standard deviation is 0.0015.
        Assert.InRange((double)kept / mask.Length, 1 - rate - 0.01, 1 - rate + 0.01);
    }

    [Fact]
    public void MasksAreReproducibleFromTheSeedAndChangeFromCallToCall()
    {
        var x = new Matrix<double>(4, 50);
        x.Span.Fill(1);
        var a = new Dropout<double>(50, 0.5, seed: 9) { Training = true };
        var b = new Dropout<double>(50, 0.5, seed: 9) { Training = true };
        var first = a.Forward(x).ToArray();
        Assert.Equal(first, b.Forward(x).ToArray());
        Assert.NotEqual(first, a.Forward(x).ToArray());
    }

    [Fact]
    public void EvalIsTheIdentityForwardAndBackward()
    {
        var rng = new Rng(1010);
        var layer = new Dropout<double>(20, 0.5, seed: 1);
        Assert.False(layer.Training);   // inference until a network (or the caller) says otherwise
        var x = Normal(rng, 3, 20);
        var g = Normal(rng, 3, 20);
        Assert.Equal(x.ToArray(), layer.Forward(x).ToArray());
        Assert.Equal(x.ToArray(), layer.Forward(x).ToArray());
        Assert.Equal(g.ToArray(), layer.Backward(g).ToArray());
        layer.Training = true;
        Assert.NotEqual(x.ToArray(), layer.Forward(x).ToArray());
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.0)]
    [InlineData(double.NaN)]
    public void RejectsRatesOutsideZeroToOne(double rate) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new Dropout<float>(3, rate));
}
