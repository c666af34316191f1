using ScratchNet.Layers;
using Xunit.Abstractions;
using static ScratchNet.Tests.Gradients.GradientCheck;

namespace ScratchNet.Tests.Gradients;

/// <summary>
/// Each layer's Backward against central differences of f = Σ Forward(x) ⊙ g for a fixed random g
/// (never all ones: softmax's Jacobian times ones is zero), with respect to the input and every parameter.
/// </summary>
public class LayerGradientTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void LinearGradientsMatchFiniteDifferences(int batch)
    {
        var rng = new Rng(100 + (ulong)batch);
        var layer = new Linear<double>(Normal(rng, 4, 6, 0.5), Normal(rng, 1, 4, 0.2), regularized: true);
        CheckLayer($"linear B={batch}", layer, Normal(rng, batch, 6), rng);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void LinearWithoutBiasGradientsMatchFiniteDifferences(int batch)
    {
        var rng = new Rng(120 + (ulong)batch);
        var layer = new Linear<double>(Normal(rng, 4, 6, 0.5), null, regularized: true);
        Assert.Null(layer.Bias);
        Assert.Equal(["weight"], layer.Parameters.Select(p => p.Name));
        CheckLayer($"linear without bias B={batch}", layer, Normal(rng, batch, 6), rng);
    }

    // Big enough (≥ 2·2^16 multiply-adds per GEMM) for Gemm to split the work across threads on a
    // machine with ≥ 2 cores: (8, 64, 256) splits dW and dX by rows, (1, 512, 256) forward and dX by
    // columns. Large weights are sampled at every 131st element to keep the test fast.
    [Theory]
    [InlineData(8, 64, 256)]
    [InlineData(1, 512, 256)]
    public void LinearGradientsMatchFiniteDifferencesAtThreadedSizes(int batch, int inputs, int outputs)
    {
        var rng = new Rng(150 + (ulong)batch);
        var layer = new Linear<double>(Normal(rng, outputs, inputs, 1 / Math.Sqrt(inputs)), Normal(rng, 1, outputs, 0.2), regularized: true);
        CheckLayer($"linear B={batch} {inputs}->{outputs}", layer, Normal(rng, batch, inputs), rng, parameterStride: 131);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void ReluGradientsMatchFiniteDifferences(int batch)
    {
        var rng = new Rng(200 + (ulong)batch);
        // |x| ≥ 1e-2 while the step is at most a few 1e-6: no kink lies between x − h and x + h.
        CheckLayer($"relu B={batch}", new Relu<double>(7), NormalAwayFromZero(rng, batch, 7, margin: 1e-2), rng);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void SoftmaxGradientsMatchFiniteDifferences(int batch)
    {
        var rng = new Rng(300 + (ulong)batch);
        CheckLayer($"softmax B={batch}", new Softmax<double>(5), Normal(rng, batch, 5, 2), rng);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void NestedSequentialAndResidualBlocksMatchFiniteDifferences(int batch)
    {
        var rng = new Rng(700 + (ulong)batch);
        var blocks = Golden.ResidualGoldenTests.Blocks();
        var net = new Sequential<double>(blocks[0], new Sequential<double>(blocks[1], blocks[2]));
        foreach (var entry in ModuleState.Entries(net.Layers)) foreach (ref double v in entry.Value.Span) v = 0.5 * rng.NextNormal();
        CheckLayer($"sequential[linear, sequential[residual, residual+projection]] B={batch}", net, Normal(rng, batch, 5), rng);
    }

    [Fact]
    public void BackwardDoesNotModifyTheGradientItIsGiven()
    {
        var rng = new Rng(400);
        Layer<double>[] layers =
        [
            new Relu<double>(6),
            new Softmax<double>(6),
            new Linear<double>(Normal(rng, 6, 6), Normal(rng, 1, 6), regularized: false),
        ];
        foreach (var layer in layers)
        {
            layer.Forward(Normal(rng, 5, 6));
            var g = Normal(rng, 5, 6);
            var before = g.ToArray();
            layer.Backward(g);
            Assert.True(before.AsSpan().SequenceEqual(g.Span), $"{layer}.Backward changed the gradient it was given.");
        }
    }

    [Fact]
    public void LinearBackwardAccumulatesParameterGradients()
    {
        var rng = new Rng(500);
        var layer = new Linear<double>(Normal(rng, 4, 6), Normal(rng, 1, 4), regularized: false);
        var x = Normal(rng, 5, 6);
        var g = Normal(rng, 5, 4);
        layer.Forward(x);
        foreach (var parameter in layer.Parameters) parameter.ZeroGradient();
        var dxOnce = layer.Backward(g).ToArray();
        var once = layer.Parameters.Select(p => p.Gradient.ToArray()).ToArray();
        var dxTwice = layer.Backward(g).ToArray();
        Assert.Equal(dxOnce, dxTwice);   // dx is returned, not accumulated
        for (int k = 0; k < once.Length; k++)
        {
            var twice = layer.Parameters[k].Gradient.Span;
            for (int i = 0; i < twice.Length; i++)
                Assert.True(Math.Abs(twice[i] - 2 * once[k][i]) <= 1e-12 * Math.Max(1, Math.Abs(once[k][i])),
                    $"{layer.Parameters[k].Name}[{i}]: after two backward calls {twice[i]}, expected 2 × {once[k][i]}.");
        }
    }

    private void CheckLayer(string what, Layer<double> layer, Matrix<double> x, Rng rng, int parameterStride = 1)
    {
        var g = Normal(rng, x.Rows, layer.OutputSize);   // dL/d output, random
        double F() => Dot(layer.Forward(x), g);

        layer.Forward(x);
        var parameters = ModuleState.Parameters<double>([layer]);   // a block's come from its children
        foreach (var parameter in parameters) parameter.ZeroGradient();   // Backward adds into them
        var dx = layer.Backward(g).ToArray();

        double worst = Check($"{what} d/dx", F, x, dx);
        foreach (var parameter in parameters)
            worst = Math.Max(worst, Check($"{what} d/d{parameter.Name}", F, parameter.Value, parameter.Gradient.Span,
                stride: parameter.Value.Length > 1000 ? parameterStride : 1));
        output.WriteLine($"{what}: worst relative error {worst:E2}");
    }
}
