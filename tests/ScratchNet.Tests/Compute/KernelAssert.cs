using System.Numerics;

namespace ScratchNet.Tests.Compute;

/// <summary>Comparisons for kernels against their references: |actual − expected| ≤ tolerance · max(1, max|expected|).</summary>
internal static class KernelAssert
{
    public static void Close<T>(ReadOnlySpan<T> expected, ReadOnlySpan<T> actual, double tolerance, string what)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = 1;
        foreach (var e in expected) scale = Math.Max(scale, Math.Abs(double.CreateChecked(e)));
        int worst = -1;
        double worstDifference = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double difference = Math.Abs(double.CreateChecked(actual[i]) - double.CreateChecked(expected[i]));
            if (!(difference <= worstDifference)) (worst, worstDifference) = (i, difference);
        }
        if (worst >= 0 && !(worstDifference <= tolerance * scale))
            Assert.Fail($"{what}: element {worst} is {actual[worst]}, expected {expected[worst]} (difference {worstDifference:G3} > {tolerance:G3} × {scale:G3}).");
    }

    public static Matrix<T> Random<T>(int rows, int cols, Rng rng) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var tensor = new Matrix<T>(rows, cols);
        foreach (ref T value in tensor.Span) value = T.CreateChecked(rng.NextNormal());
        return tensor;
    }

    /// <summary>Tolerance for sums of up to a few thousand products of N(0,1) values, relative to the largest result.</summary>
    public static double SumTolerance<T>() => typeof(T) == typeof(float) ? 1e-5 : 1e-13;
}
