using ScratchNet.Layers;
using ScratchNet.Losses;

namespace ScratchNet.Tests.Networks;

/// <summary>Xavier/Glorot and He/Kaiming initialisation: the sample statistics, bounds and seeding.</summary>
public class InitTests
{
    [Theory]
    [InlineData(Init.XavierNormal, 400, 300)]
    [InlineData(Init.XavierUniform, 400, 300)]
    [InlineData(Init.HeNormal, 400, 300)]
    [InlineData(Init.HeUniform, 400, 300)]
    [InlineData(Init.HeNormal, 784, 100)]
    [InlineData(Init.TorchDefault, 400, 300)]
    public void WeightsHaveTheInitialisersMeanAndStandardDeviation(Init init, int fanIn, int fanOut)
    {
        var net = new Network<double>(fanIn, fanOut, seed: 7);
        var layer = net.AddLinear(fanOut, init);
        var w = layer.Weight.Value.Span.ToArray();
        double expected = init switch
        {
            Init.XavierNormal or Init.XavierUniform => Math.Sqrt(2.0 / (fanIn + fanOut)),
            Init.TorchDefault => 1 / Math.Sqrt(fanIn) / Math.Sqrt(3),   // U(±1/√fan_in), as torch.nn.Linear's reset_parameters
            _ => Math.Sqrt(2.0 / fanIn),
        };

        double mean = w.Average();
        double std = Math.Sqrt(w.Sum(v => (v - mean) * (v - mean)) / (w.Length - 1));
        // n ≥ 78,400 draws: the sample std is within ~0.5 % of σ (4 standard errors), the mean within 4σ/√n.
        Assert.InRange(std / expected, 0.985, 1.015);
        Assert.InRange(Math.Abs(mean), 0, 4 * expected / Math.Sqrt(w.Length));
        Assert.Equal(expected, Initializers.StandardDeviation(init, fanIn, fanOut), 15);
        Assert.All(layer.Bias!.Value.Span.ToArray(), b => Assert.Equal(0, b));
        if (Initializers.IsUniform(init))
        {
            double bound = expected * Math.Sqrt(3);
            Assert.All(w, v => Assert.InRange(v, -bound, bound));
            Assert.True(w.Max() > 0.99 * bound && w.Min() < -0.99 * bound, "uniform draws should reach near both bounds");
        }
        else
        {
            // A normal has ~0.27 % of its draws beyond 3σ; a uniform of the same σ has none.
            double beyond = w.Count(v => Math.Abs(v) > 3 * expected) / (double)w.Length;
            Assert.InRange(beyond, 0.0015, 0.004);
        }
    }

    [Theory]
    [InlineData(Init.XavierNormal)]
    [InlineData(Init.HeUniform)]
    public void TheSameSeedGivesTheSameWeightsAndAnotherSeedOthers(Init init)
    {
        float[] Draw(ulong seed)
        {
            var net = new Network<float>(20, 5, Loss.L2, seed: seed);
            net.AddLinear(30, init);
            net.AddRelu();
            return net.AddLinear(5, init).Weight.Value.Span.ToArray();
        }
        Assert.Equal(Draw(3), Draw(3));
        Assert.NotEqual(Draw(3), Draw(4));
    }

    [Fact]
    public void AnUndefinedInitialiserIsRefused()
    {
        var net = new Network<float>(4, 2);
        Assert.Throws<ArgumentOutOfRangeException>(() => net.AddLinear(2, (Init)42));
        Assert.Throws<ArgumentOutOfRangeException>(() => net.AddLinear(0, Init.HeNormal));
    }
}
