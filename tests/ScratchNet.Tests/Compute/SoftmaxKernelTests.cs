using System.Numerics;
using ScratchNet.Compute;

namespace ScratchNet.Tests.Compute;

/// <summary>
/// <c>SoftmaxKernel.Row</c>: probabilities that sum to 1 and the returned log Σ exp(z), compared with a
/// double-precision computation; tolerances are stated in machine epsilons of the type.
/// </summary>
[Trait("Category", "Kernels")]
public class SoftmaxKernelTests
{
    [Fact]
    public void FloatRowSumsToOneAndMatchesDoubleFormula() => AssertMatchesFormula<float>();

    [Fact]
    public void DoubleRowSumsToOneAndMatchesDoubleFormula() => AssertMatchesFormula<double>();

    [Fact]
    public void FloatHugeLogitsStayFinite() => AssertHugeLogits<float>();

    [Fact]
    public void DoubleHugeLogitsStayFinite() => AssertHugeLogits<double>();

    [Fact]
    public void EqualHugeLogitsSplitEvenly()
    {
        float[] z = [1000f, 1000f, 1000f, 1000f];
        var p = new float[4];
        float logSumExp = SoftmaxKernel.Row<float>(z, p);
        Assert.All(p, value => Assert.Equal(0.25f, value));
        // 1000 + ln 4 = 1001.386..., within a float ulp at 1000 (6.1e-5) twice over.
        Assert.Equal(1000 + Math.Log(4), logSumExp, 1.3e-4);
    }

    [Fact]
    public void SingleLogitIsCertain()
    {
        double[] p = [double.NaN];
        Assert.Equal(-3.5, SoftmaxKernel.Row<double>([-3.5], p));
        Assert.Equal(1.0, p[0]);
    }

    // Tolerances, with ε the type's machine epsilon: Σp = 1 within 4·width·ε; log Σ exp within 8ε·max(1, |lse|);
    // each p within 32ε·(1 + |z − lse|)·p, since rounding z − max costs ε·|z − max| in the exponent.
    private static void AssertMatchesFormula<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        double epsilon = double.CreateChecked(T.BitIncrement(T.One) - T.One);
        var rng = new Rng(3);
        foreach (int width in new[] { 1, 2, 3, 7, 8, 10, 17, 64, 100 })
        {
            var z = new T[width];
            foreach (ref T v in z.AsSpan()) v = T.CreateChecked(6 * rng.NextNormal());
            var p = new T[width];
            T logSumExp = SoftmaxKernel.Row<T>(z, p);

            double expectedLse = Math.Log(z.Sum(v => Math.Exp(double.CreateChecked(v))));
            Assert.Equal(expectedLse, double.CreateChecked(logSumExp), 8 * epsilon * Math.Max(1, Math.Abs(expectedLse)));
            Assert.Equal(1.0, p.Sum(v => double.CreateChecked(v)), 4 * width * epsilon);
            for (int j = 0; j < width; j++)
            {
                double exponent = double.CreateChecked(z[j]) - expectedLse;
                double expected = Math.Exp(exponent);
                double tolerance = 32 * epsilon * (1 + Math.Abs(exponent)) * expected;
                Assert.True(Math.Abs(double.CreateChecked(p[j]) - expected) <= tolerance,
                    $"{typeof(T).Name} width {width}: p[{j}] = {p[j]}, expected {expected} within {tolerance:G3}.");
            }
        }
    }

    private static void AssertHugeLogits<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        // exp(1000) overflows even double; without the max shift this is Inf/Inf = NaN.
        T[] z = [T.CreateChecked(1000), T.CreateChecked(-1000), T.Zero, T.CreateChecked(999)];
        var p = new T[z.Length];
        T logSumExp = SoftmaxKernel.Row<T>(z, p);
        Assert.All(p, value => Assert.True(T.IsFinite(value) && value >= T.Zero && value <= T.One, $"p = {value}"));
        Assert.Equal(T.Zero, p[1]);
        // p = (1, 0, 0, e⁻¹)/(1 + e⁻¹): 0.7310586 and 0.2689414; lse = 1000 + ln(1 + e⁻¹) = 1000.3132617.
        Assert.Equal(0.7310585786300049, double.CreateChecked(p[0]), 1e-6);
        Assert.Equal(0.2689414213699951, double.CreateChecked(p[3]), 1e-6);
        Assert.Equal(1000.3132616875182, double.CreateChecked(logSumExp), 1.3e-4);
        Assert.True(T.IsFinite(logSumExp));
    }
}
