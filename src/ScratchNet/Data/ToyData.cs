using System.Numerics;

namespace ScratchNet.Data;

/// <summary>The report's four synthetic problems, seeded so every run draws the same points.</summary>
public static class ToyData
{
    /// <summary>
    /// Linear rotation: x ~ N(0, I₂), target (−x₂, x₁), a 90° turn. The report's first experiment
    /// (10,000 points, L2 loss, no softmax).
    /// </summary>
    public static Dataset<T> Linear<T>(int points = 10_000, ulong seed = 0) where T : unmanaged, IFloatingPointIeee754<T> =>
        Generate<T>("linear", points, seed, 2, 2, (rng, x, y) =>
        {
            x[0] = rng.NextNormal();
            x[1] = rng.NextNormal();
            y[0] = -x[1];
            y[1] = x[0];
        });

    /// <summary>
    /// Folded: as <see cref="Linear"/>, but the target folds the plane along x₂ = 0, (−|x₂|, x₁), which no
    /// linear map can fit. (The report's Python folds x₂ in place through a view, so its inputs come out
    /// folded too and the task turns linear again; this keeps the inputs unfolded, as its docstring intends.)
    /// </summary>
    public static Dataset<T> Folded<T>(int points = 10_000, ulong seed = 0) where T : unmanaged, IFloatingPointIeee754<T> =>
        Generate<T>("folded", points, seed, 2, 2, (rng, x, y) =>
        {
            x[0] = rng.NextNormal();
            x[1] = rng.NextNormal();
            y[0] = -Math.Abs(x[1]);
            y[1] = x[0];
        });

    /// <summary>
    /// Square insideness as two classes: points uniform in [0, 4)², target one-hot (outside, inside) of
    /// the open square 2 &lt; x₁ &lt; 3, 1 &lt; x₂ &lt; 2 (the report's window and its inward edge normals).
    /// </summary>
    public static Dataset<T> Square<T>(int points = 2_000, ulong seed = 0) where T : unmanaged, IFloatingPointIeee754<T> =>
        Generate<T>("square", points, seed, 2, 2, (rng, x, y) =>
        {
            x[0] = 4 * rng.NextDouble();
            x[1] = 4 * rng.NextDouble();
            bool inside = x[0] > 2 && x[0] < 3 && x[1] > 1 && x[1] < 2;
            y[inside ? 1 : 0] = 1;
        });

    /// <summary>
    /// Two patterns: each sample is, with equal odds, (1,0,1,0,1,0) labelled class 1 or (1,1,1,0,0,0)
    /// labelled class 0, one-hot over two classes.
    /// </summary>
    public static Dataset<T> Patterns<T>(int samples = 1_000, ulong seed = 0) where T : unmanaged, IFloatingPointIeee754<T> =>
        Generate<T>("patterns", samples, seed, 6, 2, (rng, x, y) =>
        {
            bool first = rng.NextDouble() > 0.5;
            double[] pattern = first ? [1, 0, 1, 0, 1, 0] : [1, 1, 1, 0, 0, 0];
            pattern.CopyTo(x);
            y[first ? 1 : 0] = 1;
        });

    private delegate void SampleWriter(Rng rng, Span<double> features, Span<double> targets);

    private static Dataset<T> Generate<T>(string name, int count, ulong seed, int inputs, int outputs, SampleWriter write)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        var rng = new Rng(seed);
        var features = new Matrix<T>(count, inputs);
        var targets = new Matrix<T>(count, outputs);
        Span<double> x = stackalloc double[inputs];
        Span<double> y = stackalloc double[outputs];
        for (int i = 0; i < count; i++)
        {
            y.Clear();
            write(rng, x, y);
            Convert(x, features.Row(i));
            Convert(y, targets.Row(i));
        }
        return new Dataset<T>(name, features, targets);

        static void Convert(ReadOnlySpan<double> from, Span<T> to)
        {
            for (int j = 0; j < from.Length; j++) to[j] = T.CreateChecked(from[j]);
        }
    }
}
