using System.Globalization;
using ScratchNet.Data;
using ScratchNet.Layers;
using ScratchNet.Losses;
using Xunit.Abstractions;

namespace ScratchNet.Tests.Golden;

/// <summary>
/// The label-smoothed cross-entropy against <c>torch.nn.functional.cross_entropy(label_smoothing=ε)</c>
/// (tools/golden/make_loss_golden.py), through a linear layer: the mean loss and the gradients of W, b and the
/// input, for one-hot (class-index) and probability targets, ε ∈ {0, 0.1, 0.2}. Float64, 1e-10 · max(1, |expected|).
/// </summary>
public class LabelSmoothingGoldenTests(ITestOutputHelper output)
{
    public static TheoryData<double, string> Cases()
    {
        var cases = new TheoryData<double, string>();
        foreach (double eps in new[] { 0.0, 0.1, 0.2 })
            foreach (string kind in new[] { "hard", "soft" }) cases.Add(eps, kind);
        return cases;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LossAndGradientsMatchTorch(double smoothing, string kind)
    {
        using var golden = new GoldenJson(Path.Combine("Golden", "Layers", "label_smoothing.json"), 1e-10);
        int batch = golden.Shape("x")[0], inputs = golden.Shape("x")[1], classes = golden.Shape("W")[0];
        var x = new Matrix<double>(batch, inputs, golden.Data("x"));
        var y = kind == "hard"
            ? Dataset<double>.OneHot([.. golden.Data("labels").Select(v => (int)v)], classes)
            : new Matrix<double>(batch, classes, golden.Data("soft"));
        var net = new Network<double>(inputs, classes, Loss.CrossEntropy);
        net.Add(new Linear<double>(new Matrix<double>(classes, inputs, golden.Data("W")), new Matrix<double>(1, classes, golden.Data("b")), regularized: false));
        net.AddSoftmax();
        net.LabelSmoothing = smoothing;

        double loss = net.ComputeGradients(x, y, out var dx);

        string key = string.Create(CultureInfo.InvariantCulture, $"{kind}_{smoothing:G}");
        golden.Compare("loss_" + key, [loss]);
        golden.Compare("dW_" + key, net.Parameters[0].Gradient.Span);
        golden.Compare("db_" + key, net.Parameters[1].Gradient.Span);
        golden.Compare("dx_" + key, dx.Span);
        // The reported loss is the one minimised: Evaluate agrees with the training loss.
        Assert.Equal(loss, net.Evaluate(x, y).Loss, 1e-12);
        output.WriteLine($"{key}: worst scaled error {golden.Worst:E2}");
    }

    [Fact]
    public void SmoothingIsRefusedOutsideItsRangeAndForL2()
    {
        var net = new Network<double>(2, 2, Loss.CrossEntropy);
        Assert.Throws<ArgumentOutOfRangeException>(() => net.LabelSmoothing = 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => net.LabelSmoothing = -0.1);
        var l2 = new Network<double>(2, 2, Loss.L2);
        l2.LabelSmoothing = 0;
        Assert.Throws<NotSupportedException>(() => l2.LabelSmoothing = 0.1);
    }
}
