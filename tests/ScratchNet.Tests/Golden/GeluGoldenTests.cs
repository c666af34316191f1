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
    public void DoubleGeluMatchesTorch(GeluApproximation approximate, string form) => MatchesTorch<double>(approximate, form, 1e-12, "");

    [Theory]
    [InlineData(GeluApproximation.None, "none")]
    [InlineData(GeluApproximation.Tanh, "tanh")]
    public void FloatGeluMatchesTorch(GeluApproximation approximate, string form) => MatchesTorch<float>(approximate, form, 2e-6, "", ".float32");

    // The layer's output and input gradient in T against each named set of torch's values ("" is float64's).
    private void MatchesTorch<T>(GeluApproximation approximate, string form, double tolerance, params string[] suffixes)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var golden = new GoldenJson(Path.Combine("Golden", "Layers", "gelu.json"), tolerance);
        var x = golden.Data("x");
        var layer = new Gelu<T>(x.Length, approximate);
        double[] y = [.. layer.Forward(new Matrix<T>(1, x.Length, [.. x.Select(T.CreateChecked)])).ToArray().Select(double.CreateChecked)];
        double[] dx = [.. layer.Backward(new Matrix<T>(1, x.Length, [.. golden.Data("g").Select(T.CreateChecked)])).ToArray().Select(double.CreateChecked)];
        foreach (string suffix in suffixes)
        {
            golden.Compare($"{form}.y{suffix}", y);
            golden.Compare($"{form}.dx{suffix}", dx);
        }
        output.WriteLine($"{form}, {typeof(T).Name}: worst scaled error {golden.Worst:E2}");
    }
}
