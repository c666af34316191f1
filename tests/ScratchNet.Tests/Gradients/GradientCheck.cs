using System.Globalization;

namespace ScratchNet.Tests.Gradients;

/// <summary>
/// Central-difference gradient checks in float64, in the style of ConvNetSharp's GradientCheckTools but
/// with random upstream gradients chosen by the caller.
/// </summary>
/// <remarks>
/// numeric_i = (f(v + h_i·e_i) − f(v − h_i·e_i)) / (2·h_i), with h_i = <see cref="RelativeStep"/>·max(1, |v_i|);
/// the divisor is the step actually taken after rounding, (v_i + h_i) − (v_i − h_i).
/// The check passes when rel = ‖analytic − numeric‖₂ / max(‖analytic‖₂ + ‖numeric‖₂, <see cref="Tiny"/>) &lt; tolerance.
/// Truncation error is O(h²·f‴) ≈ 1e-12 and rounding error O(ε·|f|/h) ≈ 1e-10·|f|, both far below the
/// default tolerance of 1e-7 for the O(1) objectives used here.
/// </remarks>
internal static class GradientCheck
{
    /// <summary>h_i / max(1, |v_i|).</summary>
    public const double RelativeStep = 1e-6;

    /// <summary>Floor of the denominator of rel, so that two zero gradients agree (rel = 0).</summary>
    public const double Tiny = 1e-300;

    /// <summary>The default bound on rel.</summary>
    public const double DefaultTolerance = 1e-7;

    /// <summary>
    /// d f / d <paramref name="variable"/> by central differences at flat indices 0, stride, 2·stride, …
    /// (every element by default); <paramref name="variable"/> is restored exactly.
    /// </summary>
    public static double[] Numeric(Func<double> f, Matrix<double> variable, int stride = 1)
    {
        var v = variable.Span;
        var gradient = new double[(v.Length + stride - 1) / stride];
        for (int i = 0; i < v.Length; i += stride)
        {
            double original = v[i];
            double h = RelativeStep * Math.Max(1, Math.Abs(original));
            double plus = original + h, minus = original - h;
            v[i] = plus;
            double fPlus = f();
            v[i] = minus;
            double fMinus = f();
            v[i] = original;
            gradient[i / stride] = (fPlus - fMinus) / (plus - minus);
        }
        return gradient;
    }

    /// <summary>‖analytic − numeric‖₂ / max(‖analytic‖₂ + ‖numeric‖₂, <see cref="Tiny"/>).</summary>
    public static double RelativeError(ReadOnlySpan<double> analytic, ReadOnlySpan<double> numeric)
    {
        Assert.Equal(analytic.Length, numeric.Length);
        double diff = 0, a = 0, n = 0;
        for (int i = 0; i < analytic.Length; i++)
        {
            double d = analytic[i] - numeric[i];
            diff += d * d;
            a += analytic[i] * analytic[i];
            n += numeric[i] * numeric[i];
        }
        return Math.Sqrt(diff) / Math.Max(Math.Sqrt(a) + Math.Sqrt(n), Tiny);
    }

    /// <summary>
    /// Compares <paramref name="analytic"/> (copied before <paramref name="f"/> first runs, since running it may
    /// overwrite the buffer) with the numeric gradient of <paramref name="f"/> with respect to
    /// <paramref name="variable"/>, at every <paramref name="stride"/>-th element (for large tensors).
    /// Fails naming <paramref name="what"/> and the worst element; returns rel.
    /// </summary>
    public static double Check(string what, Func<double> f, Matrix<double> variable, ReadOnlySpan<double> analytic,
        double tolerance = DefaultTolerance, int stride = 1)
    {
        Assert.True(analytic.Length == variable.Length, $"{what}: analytic gradient has {analytic.Length} elements, the variable {variable.Length}.");
        double[] expected = new double[(analytic.Length + stride - 1) / stride];
        for (int i = 0; i < expected.Length; i++) expected[i] = analytic[i * stride];
        double[] numeric = Numeric(f, variable, stride);
        double rel = RelativeError(expected, numeric);
        if (!(rel < tolerance))
        {
            int worst = 0;
            for (int i = 1; i < numeric.Length; i++)
                if (Math.Abs(expected[i] - numeric[i]) > Math.Abs(expected[worst] - numeric[worst])) worst = i;
            int flat = worst * stride, row = flat / variable.Cols, col = flat % variable.Cols;
            Assert.Fail(string.Create(CultureInfo.InvariantCulture,
                $"{what}: relative error {rel:E3} >= {tolerance:E1}; worst element [{row}, {col}] (flat {flat}) of {variable.Shape}: " +
                $"analytic {expected[worst]:R}, numeric {numeric[worst]:R}, difference {expected[worst] - numeric[worst]:E3}."));
        }
        return rel;
    }

    /// <summary>A (rows, cols) tensor of N(0, 1) draws.</summary>
    public static Matrix<double> Normal(Rng rng, int rows, int cols, double scale = 1)
    {
        var tensor = new Matrix<double>(rows, cols);
        foreach (ref double value in tensor.Span) value = scale * rng.NextNormal();
        return tensor;
    }

    /// <summary>A (rows, cols) tensor of N(0, 1) draws, each redrawn until |value| ≥ <paramref name="margin"/>.</summary>
    public static Matrix<double> NormalAwayFromZero(Rng rng, int rows, int cols, double margin)
    {
        var tensor = new Matrix<double>(rows, cols);
        foreach (ref double value in tensor.Span)
            do value = rng.NextNormal(); while (Math.Abs(value) < margin);
        return tensor;
    }

    /// <summary>A (rows, cols) tensor of uniform draws in [<paramref name="low"/>, <paramref name="high"/>).</summary>
    public static Matrix<double> Uniform(Rng rng, int rows, int cols, double low, double high)
    {
        var tensor = new Matrix<double>(rows, cols);
        foreach (ref double value in tensor.Span) value = low + (high - low) * rng.NextDouble();
        return tensor;
    }

    /// <summary>One-hot rows with a random class each.</summary>
    public static Matrix<double> OneHot(Rng rng, int rows, int classes)
    {
        var tensor = new Matrix<double>(rows, classes);
        for (int r = 0; r < rows; r++) tensor[r, rng.NextInt(classes)] = 1;
        return tensor;
    }

    /// <summary>Σ a ⊙ b, the scalar objective whose gradient with respect to a is b.</summary>
    public static double Dot(Matrix<double> a, Matrix<double> b)
    {
        Assert.Equal(a.Shape, b.Shape);
        return System.Numerics.Tensors.TensorPrimitives.Dot<double>(a.Span, b.Span);
    }
}
