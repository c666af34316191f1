using ScratchNet.Layers;
using Xunit.Abstractions;
using static ScratchNet.Tests.Gradients.GradientCheck;

namespace ScratchNet.Tests.Gradients;

/// <summary>
/// The image layers' Backward against central differences of f = Σ Forward(x) ⊙ g (g random), with respect to the
/// input and every parameter, at odd sizes, strides and paddings.
/// </summary>
public class ImageLayerGradientTests(ITestOutputHelper output)
{
    // (C, H, W, OC, kernel h, kernel w, stride h, stride w, pad h, pad w, groups, bias)
    [Theory]
    [InlineData(3, 5, 7, 4, 3, 3, 1, 1, 1, 1, 1, true)]
    [InlineData(2, 7, 6, 3, 3, 2, 2, 1, 0, 1, 1, false)]
    [InlineData(4, 9, 9, 6, 3, 3, 2, 2, 1, 1, 2, true)]
    [InlineData(3, 6, 5, 3, 3, 3, 1, 1, 1, 1, 3, true)]     // depthwise
    [InlineData(5, 4, 3, 7, 1, 1, 1, 1, 0, 0, 1, true)]     // pointwise
    [InlineData(3, 8, 8, 5, 2, 2, 1, 1, 0, 0, 1, true)]     // the whitening conv's shape
    [InlineData(2, 5, 5, 3, 5, 3, 3, 2, 2, 0, 1, true)]
    public void Conv2dGradientsMatchFiniteDifferences(int c, int h, int w, int oc, int kh, int kw, int sh, int sw, int ph, int pw, int groups, bool bias)
    {
        var rng = new Rng((ulong)(c * 1000 + h * 100 + w * 10 + oc));
        var layer = new Conv2d<double>(new Shape(c, h, w), oc, (kh, kw), (sh, sw), (ph, pw), bias, groups);
        foreach (var p in layer.Parameters) foreach (ref double v in p.Value.Span) v = 0.5 * rng.NextNormal();
        CheckLayer($"conv2d {layer}", layer, Normal(rng, 3, layer.InputSize), rng);
    }

    [Theory]
    [InlineData(3, 3)]
    [InlineData(2, 4)]
    public void Conv2dSamePaddingGradientsMatchFiniteDifferences(int kh, int kw)
    {
        var rng = new Rng((ulong)(kh * 10 + kw));
        var layer = Conv2d<double>.Same(new Shape(2, 5, 6), 3, (kh, kw));
        Assert.Equal(new Shape(3, 5, 6), layer.OutputShape);
        foreach (var p in layer.Parameters) foreach (ref double v in p.Value.Span) v = 0.5 * rng.NextNormal();
        CheckLayer($"conv2d same {layer}", layer, Normal(rng, 2, layer.InputSize), rng);
    }

    [Theory]
    [InlineData(2, 2, 0)]
    [InlineData(3, 2, 1)]
    [InlineData(3, 1, 1)]
    [InlineData(2, 3, 0)]
    public void MaxPool2dGradientsMatchFiniteDifferences(int kernel, int stride, int padding)
    {
        var rng = new Rng((ulong)(kernel * 100 + stride * 10 + padding));
        var layer = new MaxPool2d<double>(new Shape(2, 7, 6), kernel, stride, padding);
        // Distinct values, well apart: no tie or near-tie flips a window's winner within the finite-difference step.
        var x = new Matrix<double>(3, layer.InputSize);
        var order = Enumerable.Range(0, x.Length).OrderBy(_ => rng.NextDouble()).ToArray();
        for (int i = 0; i < x.Length; i++) x.Span[i] = 0.01 * order[i] - 1;
        CheckLayer($"maxpool2d {layer}", layer, x, rng);
    }

    [Theory]
    [InlineData(2, 2, 0, true)]
    [InlineData(3, 2, 1, true)]
    [InlineData(3, 2, 1, false)]
    [InlineData(3, 1, 1, false)]
    public void AvgPool2dGradientsMatchFiniteDifferences(int kernel, int stride, int padding, bool countIncludePad)
    {
        var rng = new Rng((ulong)(kernel * 100 + stride * 10 + padding));
        var layer = new AvgPool2d<double>(new Shape(3, 7, 5), kernel, stride, padding, countIncludePad);
        CheckLayer($"avgpool2d {layer} count_include_pad={countIncludePad}", layer, Normal(rng, 2, layer.InputSize), rng);
    }

    [Fact]
    public void GlobalAvgPoolAndFlattenGradientsMatchFiniteDifferences()
    {
        var rng = new Rng(77);
        CheckLayer("global_avgpool2d", new GlobalAvgPool2d<double>(new Shape(3, 5, 4)), Normal(rng, 2, 60), rng);
        CheckLayer("flatten", new Flatten<double>(new Shape(3, 5, 4)), Normal(rng, 2, 60), rng);
    }

    [Theory]
    [InlineData(true, true, false)]
    [InlineData(false, true, false)]
    [InlineData(true, false, false)]
    [InlineData(true, true, true)]
    public void BatchNorm2dGradientsMatchFiniteDifferences(bool training, bool affine, bool frozenWeight)
    {
        var rng = new Rng(90);
        var layer = new BatchNorm2d<double>(new Shape(3, 4, 5), momentum: 0.2, affine: affine, frozenWeight: frozenWeight) { Training = training };
        if (affine)
        {
            foreach (ref double v in layer.Weight!.Value.Span) v = 1 + 0.5 * rng.NextNormal();
            foreach (ref double v in layer.Bias!.Value.Span) v = 0.3 * rng.NextNormal();
        }
        foreach (ref double v in layer.RunningMean.Span) v = 0.2 * rng.NextNormal();
        foreach (ref double v in layer.RunningVariance.Span) v = 0.5 + rng.NextDouble();
        CheckLayer($"batchnorm2d training={training} affine={affine} frozen={frozenWeight}", layer, Normal(rng, 3, layer.InputSize, 2), rng);
        if (frozenWeight) Assert.DoesNotContain(layer.Weight!, layer.Parameters);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AFrozenConv2dPassesGradientsToItsInputAndBiasButNotItsWeight(bool bias)
    {
        var rng = new Rng(91);
        var layer = new Conv2d<double>(new Shape(3, 6, 5), 4, (2, 2), (1, 1), (0, 0), bias, frozenWeight: true);
        foreach (ref double v in layer.Weight.Value.Span) v = 0.5 * rng.NextNormal();
        Assert.DoesNotContain(layer.Weight, layer.Parameters);
        Assert.Equal(bias ? 1 : 0, layer.Parameters.Count);
        CheckLayer($"conv2d frozen weight, bias={bias}", layer, Normal(rng, 3, layer.InputSize), rng);
        Assert.All(layer.Weight.Gradient.ToArray(), g => Assert.Equal(0.0, g));   // dW skipped, not merely unused
    }

    [Fact]
    public void ScaleGradientsMatchFiniteDifferences()
    {
        var rng = new Rng(92);
        var layer = new Scale<double>(new Shape(2, 3, 3), -1 / 9.0);
        var x = Normal(rng, 3, layer.InputSize);
        Assert.Equal(x.ToArray().Select(v => v * (-1 / 9.0)), layer.Forward(x).ToArray());
        CheckLayer("scale", layer, x, rng);
    }

    private void CheckLayer(string what, Layer<double> layer, Matrix<double> x, Rng rng)
    {
        var g = Normal(rng, x.Rows, layer.OutputSize);
        double F() => Dot(layer.Forward(x), g);
        layer.Forward(x);
        foreach (var parameter in layer.Parameters) parameter.ZeroGradient();
        var dx = layer.Backward(g).ToArray();
        double worst = Check($"{what} d/dx", F, x, dx);
        foreach (var parameter in layer.Parameters)
            worst = Math.Max(worst, Check($"{what} d/d{parameter.Name}", F, parameter.Value, parameter.Gradient.Span));
        output.WriteLine($"{what}: worst relative error {worst:E2}");
    }
}
