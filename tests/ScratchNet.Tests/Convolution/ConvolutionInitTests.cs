using ScratchNet.Layers;

namespace ScratchNet.Tests.Convolution;

/// <summary>
/// The convolution initialisations of the CIFAR-10 recipe: Dirac filters pass their channels through, and the
/// whitening filters (eigenvectors of the patch covariance, scaled by 1/√(λ + ε)) make the layer's outputs
/// uncorrelated with unit variance on the images they were fitted to, through the layer's own forward pass.
/// </summary>
public class ConvolutionInitTests
{
    [Theory]
    [InlineData(3, 5, 1)]   // more filters than inputs: the rest keep their random values
    [InlineData(4, 3, 1)]   // fewer filters than inputs
    [InlineData(4, 6, 2)]   // per group
    public void DiracFiltersPassTheirChannelsThroughUnchanged(int channels, int outChannels, int groups)
    {
        var conv = Conv2d<double>.Same(new Shape(channels, 5, 4), outChannels, (3, 3), bias: false, groups: groups);
        var rng = new Rng(3);
        foreach (ref double v in conv.Weight.Value.Span) v = rng.NextNormal();
        var before = conv.Weight.Value.ToArray();
        ConvolutionInit.Dirac(conv);
        var x = new Matrix<double>(2, conv.InputSize);
        foreach (ref double v in x.Span) v = rng.NextNormal();
        var y = conv.Forward(x);
        int plane = 5 * 4, perIn = channels / groups, perOut = outChannels / groups, patch = perIn * 9;
        for (int g = 0; g < groups; g++)
            for (int k = 0; k < perOut; k++)
            {
                int o = g * perOut + k;
                if (k < perIn)
                    for (int n = 0; n < 2; n++)
                        Assert.Equal(x.Row(n).Slice((g * perIn + k) * plane, plane).ToArray(), y.Row(n).Slice(o * plane, plane).ToArray());
                else
                    Assert.Equal(before.AsSpan(o * patch, patch).ToArray(), conv.Weight.Value.Span.Slice(o * patch, patch).ToArray());
            }
    }

    [Fact]
    public void WhitenedOutputsAreUncorrelatedWithUnitVarianceOnTheirImages()
    {
        // Correlated channels and neighbouring pixels: smooth noise mixed across channels.
        var rng = new Rng(8);
        const int count = 40, side = 9;
        var images = new Matrix<double>(count, 3 * side * side);
        for (int n = 0; n < count; n++)
        {
            var noise = new double[side * side];
            for (int i = 0; i < noise.Length; i++) noise[i] = rng.NextNormal();
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < side; y++)
                    for (int x = 0; x < side; x++)
                    {
                        double smooth = noise[y * side + x] + (x > 0 ? 0.8 * noise[y * side + x - 1] : 0);
                        images[n, (c * side + y) * side + x] = (c + 1) * smooth + 0.3 * rng.NextNormal() + 0.5 * c;
                    }
        }
        var conv = new Conv2d<double>(new Shape(3, side, side), 24, (2, 2), (1, 1), (0, 0), bias: false, frozenWeight: true);
        const double epsilon = 1e-6;
        ConvolutionInit.Whiten(conv, images, epsilon);

        var output = conv.Forward(images);
        int plane = (side - 1) * (side - 1);
        var covariance = new double[12, 12];
        for (int n = 0; n < count; n++)
            for (int p = 0; p < plane; p++)
                for (int a = 0; a < 12; a++)
                    for (int b = 0; b < 12; b++)
                        covariance[a, b] += output[n, a * plane + p] * output[n, b * plane + p] / (count * plane);
        for (int a = 0; a < 12; a++)
            for (int b = 0; b < 12; b++)
                Assert.True(Math.Abs(covariance[a, b] - (a == b ? 1 : 0)) < 1e-3, $"covariance[{a}, {b}] = {covariance[a, b]}");
        // The second half is the first negated.
        for (int n = 0; n < count; n++)
            for (int i = 0; i < 12 * plane; i++)
                Assert.Equal(-output[n, i], output[n, 12 * plane + i], 12);
    }

    [Fact]
    public void TheEigenDecompositionRebuildsTheMatrixWithValuesInDescendingOrder()
    {
        var rng = new Rng(4);
        const int n = 7;
        var m = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++)
                m[i * n + j] = m[j * n + i] = rng.NextNormal();
        var (values, vectors) = ConvolutionInit.SymmetricEigen(m, n);
        for (int k = 1; k < n; k++) Assert.True(values[k - 1] >= values[k]);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double rebuilt = 0, identity = 0;
                for (int k = 0; k < n; k++)
                {
                    rebuilt += vectors[i * n + k] * values[k] * vectors[j * n + k];
                    identity += vectors[k * n + i] * vectors[k * n + j];
                }
                Assert.Equal(m[i * n + j], rebuilt, 10);
                Assert.Equal(i == j ? 1 : 0, identity, 10);
            }
    }

    [Fact]
    public void WhiteningRefusesALayerOfTheWrongWidth()
    {
        var conv = new Conv2d<float>(new Shape(3, 6, 6), 16, 2);
        var e = Assert.Throws<ArgumentException>(() => ConvolutionInit.Whiten(conv, new Matrix<float>(2, conv.InputSize)));
        Assert.Contains("24 output channels", e.Message);
    }
}
