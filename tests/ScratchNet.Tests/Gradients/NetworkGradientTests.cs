using ScratchNet.Layers;
using ScratchNet.Losses;
using Xunit.Abstractions;
using static ScratchNet.Tests.Gradients.GradientCheck;

namespace ScratchNet.Tests.Gradients;

/// <summary>
/// A whole Linear-Relu-Linear-Relu-Linear[-Softmax] network: ComputeGradients' dL/dx and every parameter
/// gradient against central differences of the total loss (data loss plus penalty) as Evaluate reports it.
/// </summary>
public class NetworkGradientTests(ITestOutputHelper output)
{
    public enum Targets { Normal, OneHot, Soft }

    public static TheoryData<Loss, bool, Targets, double, int> Cases()
    {
        var data = new TheoryData<Loss, bool, Targets, double, int>();
        foreach (double factor in new[] { 0, 0.1 })
            foreach (int batch in new[] { 1, 5 })
            {
                data.Add(Loss.L2, false, Targets.Normal, factor, batch);
                data.Add(Loss.L2, true, Targets.Normal, factor, batch);   // softmax feeding L2: its Backward in a chain
                data.Add(Loss.CrossEntropy, true, Targets.OneHot, factor, batch);
                data.Add(Loss.CrossEntropy, true, Targets.Soft, factor, batch);
            }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void NetworkGradientsMatchFiniteDifferences(Loss loss, bool softmax, Targets targets, double factor, int batch)
    {
        string what = $"network {loss}{(softmax ? "+softmax" : "")} {targets} λ={factor} B={batch}";
        var rng = new Rng(1000 + (ulong)batch * 10 + (ulong)targets + (softmax ? 5UL : 0));
        var net = new Network<double>(4, 3, loss, regularizationFactor: factor, learningRate: 0.1, seed: rng.NextUInt64());
        net.AddLinear(6, w: 0.6, b: 0.3, regularization: true);
        net.AddRelu();
        net.AddLinear(5, w: 0.5, b: 0.3, regularization: false);   // left out of the penalty
        net.AddRelu();
        net.AddLinear(3, w: 0.5, b: 0.3, regularization: true);
        if (softmax) net.AddSoftmax();

        var x = DrawInputAwayFromKinks(net, rng, batch);
        var y = targets switch
        {
            Targets.OneHot => OneHot(rng, batch, 3),
            Targets.Soft => Uniform(rng, batch, 3, 0.1, 2),
            _ => Normal(rng, batch, 3),
        };

        double loss0 = net.ComputeGradients(x, y, out var dxTensor);
        var dx = dxTensor.ToArray();
        var gradients = net.Parameters.Select(p => p.Gradient.ToArray()).ToArray();
        double F() => net.Evaluate(x, y).Loss;
        Assert.True(Math.Abs(loss0 - F()) <= 1e-12 * Math.Max(1, Math.Abs(loss0)), $"{what}: ComputeGradients loss {loss0} but Evaluate {F()}.");

        double worst = Check($"{what} d/dx", F, x, dx);
        for (int k = 0; k < gradients.Length; k++)
        {
            var parameter = net.Parameters[k];
            worst = Math.Max(worst, Check($"{what} d/d{parameter.Name}{k / 2}", F, parameter.Value, gradients[k]));
        }
        output.WriteLine($"{what}: worst relative error {worst:E2}");
    }

    [Fact]
    public void ACnnWhoseGradientsAndScratchOutputsShareTwoBuffersMatchesFiniteDifferences()
    {
        // Every kind of link in the chain of shared buffers: layers that write their own input gradient, a flatten that
        // passes on the one it was given, a residual block whose body keeps private buffers and adds the gradient it was
        // given, a layer 0 whose gradient the network returns, and outputs no backward reads (a convolution's feeding an
        // average pool, a linear layer's feeding the softmax) in scratch. Smooth layers only (GELU, average pooling).
        var rng = new Rng(77);
        var net = new Network<double>(new Shape(2, 6, 5), 3, Loss.CrossEntropy, regularizationFactor: 0.01, learningRate: 0.1, seed: 5);
        net.AddConv2d(4, 3, padding: 1);
        net.Add(new Gelu<double>(net.CurrentShape));
        var shape = net.CurrentShape;
        var weight = Normal(rng, 4, 4 * 3 * 3);
        net.Add(new Residual<double>(new Sequential<double>(new Conv2d<double>(shape, 4, 3, padding: 1, weight: weight), new Gelu<double>(shape))));
        var pooled = net.AddConv2d(5, 3, padding: 1);
        net.AddAvgPool2d(2);
        net.AddFlatten();
        var logits = net.AddLinear(3, Init.XavierNormal, regularization: true);
        net.AddSoftmax();
        var x = Normal(rng, 4, net.Inputs);
        var y = OneHot(rng, 4, 3);

        net.ComputeGradients(x, y, out var dxTensor);
        var dx = dxTensor.ToArray();
        var gradients = net.Parameters.Select(p => p.Gradient.ToArray()).ToArray();
        double F() => net.Evaluate(x, y).Loss;

        double worst = Check("cnn d/dx", F, x, dx);
        for (int k = 0; k < gradients.Length; k++)
            worst = Math.Max(worst, Check($"cnn d/d{net.Parameters[k].Name}{k}", F, net.Parameters[k].Value, gradients[k]));
        output.WriteLine($"cnn with shared buffers: worst relative error {worst:E2}");

        // The layers after the first that write their own gradient took turns in two arrays, alternating along the chain,
        // and the two scratch outputs live in those arrays, one each; every other output is its layer's own.
        var owners = net.Layers.Skip(1).Where(l => l.BackwardReturnsInputGradient).ToArray();
        var arrays = owners.Select(l => l.InputGradientArray()).ToArray();
        Assert.Equal(2, arrays.Distinct().Count());
        for (int i = 1; i < arrays.Length; i++) Assert.NotSame(arrays[i - 1], arrays[i]);
        Assert.DoesNotContain(net.Layers[0].InputGradientArray(), arrays);
        Assert.Contains(pooled.OutputArray(), arrays);
        Assert.Contains(logits.OutputArray(), arrays);
        Assert.NotSame(pooled.OutputArray(), logits.OutputArray());
        foreach (var layer in net.Layers.Where(l => l != pooled && l != logits && l.ForwardReturnsOutput))
            Assert.DoesNotContain(layer.OutputArray(), arrays);
    }

    [Fact]
    public void ATrainingStepSkipsTheFirstLayersInputGradientAndKeepsEveryParameterGradient()
    {
        // A training step reads no dL/dx: the first layer skips it, whether a convolution, a linear layer, or a
        // convolution inside a sequential block; the parameter gradients stay bit for bit those of ComputeGradients.
        var rng = new Rng(31);
        var cnn = new Network<double>(new Shape(2, 5, 5), 3, Loss.CrossEntropy, seed: 3);
        var firstConv = cnn.AddConv2d(4, 3, padding: 1);
        cnn.Add(new Gelu<double>(cnn.CurrentShape));
        cnn.AddFlatten();
        cnn.AddLinear(3);
        cnn.AddSoftmax();

        var mlp = new Network<double>(6, 3, Loss.CrossEntropy, seed: 4);
        var firstLinear = mlp.AddLinear(5);
        mlp.AddRelu();
        mlp.AddLinear(3);
        mlp.AddSoftmax();

        var blockShape = new Shape(2, 5, 5);
        var innerConv = new Conv2d<double>(blockShape, 3, 3, padding: 1, bias: true, weight: Normal(rng, 3, 2 * 3 * 3));
        var blocked = new Network<double>(blockShape, 3, Loss.CrossEntropy, seed: 5);
        blocked.Add(new Sequential<double>(innerConv, new Gelu<double>(innerConv.OutputShape)));
        blocked.AddFlatten();
        blocked.AddLinear(3);
        blocked.AddSoftmax();

        foreach (var (net, first) in new (Network<double>, Layer<double>)[] { (cnn, firstConv), (mlp, firstLinear), (blocked, innerConv) })
        {
            var x = Normal(rng, 4, net.Inputs);
            var y = OneHot(rng, 4, 3);
            net.ComputeGradients(x, y, out _);
            var full = net.Gradients.ToArray();
            var written = (double[])first.InputGradientArray();
            Array.Fill(written, double.NaN);

            net.ComputeGradientsLayerByLayer(x, y, out var inputGradient, gradientsReady: null, needInputGradient: false);

            Assert.Null(inputGradient);
            Assert.Equal(full, net.Gradients.ToArray());
            Assert.All(written, v => Assert.True(double.IsNaN(v), $"{first}: the skipped input gradient was written"));
        }
    }

    // Redraws x until every ReLU input is at least 1e-3 from 0, so no step of a few 1e-6 crosses a kink.
    private static Matrix<double> DrawInputAwayFromKinks(Network<double> net, Rng rng, int batch)
    {
        for (int attempt = 0; attempt < 100; attempt++)
        {
            var x = Normal(rng, batch, net.Inputs);
            var h = x;
            double nearest = double.PositiveInfinity;
            foreach (var layer in net.Layers)
            {
                if (layer is Relu<double>)
                    foreach (double v in h.Span) nearest = Math.Min(nearest, Math.Abs(v));
                h = layer.Forward(h);
            }
            if (nearest >= 1e-3) return x;
        }
        throw new InvalidOperationException("No input in 100 draws kept every ReLU input away from 0.");
    }
}
