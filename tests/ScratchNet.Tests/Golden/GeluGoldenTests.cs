using ScratchNet.Layers;
using Xunit.Abstractions;

namespace ScratchNet.Tests.Golden;

/// <summary>
/// GELU, exact and in its tanh form, against <c>torch.nn.functional.gelu(x, approximate=…)</c> and its gradient
/// (tools/golden/make_gelu_golden.py) on 311 points from −40 to 40: float64 within 1e-12 · max(1, |expected|) of torch's
/// float64 values; float32 within 2e-6 of torch's float32 values and of the float64 truth. The points include the far
/// tails, where Φ underflows to 0 or saturates at 1.
/// </summary>
public class GeluGoldenTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(GeluApproximation.None, "none")]
    [InlineData(GeluApproximation.Tanh, "tanh")]
    public void DoubleGeluMatchesTorch(GeluApproximation approximate, string form)
    {
        using var golden = new GoldenJson(Path.Combine("Golden", "Layers", "gelu.json"), 1e-12);
        var x = golden.Data("x");
        var layer = new Gelu<double>(x.Length, approximate);
        golden.Compare($"{form}.y", layer.Forward(new Matrix<double>(1, x.Length, x)).Span);
        golden.Compare($"{form}.dx", layer.Backward(new Matrix<double>(1, x.Length, golden.Data("g"))).Span);
        output.WriteLine($"{form}, float64: worst scaled error {golden.Worst:E2}");
    }

    [Theory]
    [InlineData(GeluApproximation.None, "none")]
    [InlineData(GeluApproximation.Tanh, "tanh")]
    public void FloatGeluMatchesTorch(GeluApproximation approximate, string form)
    {
        using var golden = new GoldenJson(Path.Combine("Golden", "Layers", "gelu.json"), 2e-6);
        var x = golden.Data("x");
        var layer = new Gelu<float>(x.Length, approximate);
        double[] y = [.. layer.Forward(new Matrix<float>(1, x.Length, [.. x.Select(v => (float)v)])).Span.ToArray().Select(v => (double)v)];
        double[] dx = [.. layer.Backward(new Matrix<float>(1, x.Length, [.. golden.Data("g").Select(v => (float)v)])).Span.ToArray().Select(v => (double)v)];
        golden.Compare($"{form}.y.float32", y);
        golden.Compare($"{form}.dx.float32", dx);
        golden.Compare($"{form}.y", y);
        golden.Compare($"{form}.dx", dx);
        output.WriteLine($"{form}, float32: worst scaled error {golden.Worst:E2}");
    }
}
