using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ScratchNet.Compute;

/// <summary>
/// The standard normal distribution's CDF Φ(x) and density φ(x), for the exact GELU x·Φ(x): .NET has no erf.
/// For z = |x|/√2, ½·erfc(z) = ½·t·e^(−z²)·Q(t) with t = 2/(2 + z), where Q(t) = erfc(z)·e^(z²)/t is smooth on
/// [0, 1] and held by a Chebyshev series in u = 2t − 1 = (2 − z)/(2 + z); Φ(x) is ½·erfc(z) for x &lt; 0 and
/// 1 − ½·erfc(z) otherwise. The same e^(−z²) = e^(−x²/2) gives φ(x) = e^(−x²/2)/√(2π), so forward and backward take one
/// exponential and one division per element. The coefficients come from tools/math/normal_cdf_coefficients.py
/// (the series cut where it is below each type's precision: relative error of Q 1.2e-8 for float, 1.4e-17 for double).
/// The scalar <see cref="Cdf(T, out T)"/> is the reference the vector versions are held to: the same steps, lane by lane.
/// </summary>
internal static class NormalCdf<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private static readonly float[] SingleSeries =
        [5.77033739e-1f, 3.55436921e-1f, 6.50951588e-2f, 3.67114240e-3f, -1.11284474e-3f, -1.60758299e-4f, 3.27803157e-5f,
         5.44244165e-6f, -1.51546656e-6f, -1.42976082e-7f, 8.23460883e-8f];

    private static readonly double[] DoubleSeries =
        [5.7703373861646969e-1, 3.5543692127049849e-1, 6.5095158828786525e-2, 3.6711423958366392e-3, -1.1128447433526325e-3,
         -1.6075829915378080e-4, 3.2780315741731371e-5, 5.4424416455050160e-6, -1.5154665553171482e-6, -1.4297608181169865e-7,
         8.2346088274194934e-8, -1.2962846852306563e-9, -4.1547216310151983e-9, 6.3470582783628112e-10, 1.4320822712256224e-10,
         -6.1603901052045855e-11, 2.0612138554721696e-12, 3.5714931488477044e-12, -8.5864228432517965e-13, -6.1456002137906306e-14,
         7.4187257485966171e-14, -1.2895042755032326e-14, -2.3587263857106324e-15, 1.5729349381685911e-15, -2.2782966239546465e-16,
         -6.3123304507564298e-17, 3.5916763531814923e-17];

    /// <summary>Q's Chebyshev coefficients c₀ … cₙ for this type (the device kernels read them from a buffer).</summary>
    public static readonly T[] Series = typeof(T) == typeof(float)
        ? [.. SingleSeries.Select(c => T.CreateChecked(c))]
        : [.. DoubleSeries.Select(c => T.CreateChecked(c))];

    /// <summary>The largest z the series is evaluated at: beyond 30, e^(−z²) is 0 in both types, and the clamp keeps u finite for infinite x.</summary>
    public static readonly T LargestZ = T.CreateChecked(30);

    /// <summary>1/√2: z = |x|/√2.</summary>
    public static readonly T InverseRoot2 = T.CreateChecked(0.70710678118654752440);

    /// <summary>1/√(2π), the factor that turns <see cref="Cdf(T, out T)"/>'s <c>e</c> into φ(x).</summary>
    public static readonly T DensityScale = T.CreateChecked(0.39894228040143267794);

    private static readonly T Two = T.CreateChecked(2), Quarter = T.CreateChecked(0.25);

    /// <summary>Φ(x), and e = e^(−x²/2) (φ(x) = e/√(2π)).</summary>
    public static T Cdf(T x, out T e)
    {
        T z = T.Min(T.Abs(x) * InverseRoot2, LargestZ);
        T u = (Two - z) / (Two + z);
        T twoU = u + u, b1 = T.Zero, b2 = T.Zero;
        var c = Series;
        for (int k = c.Length - 1; k >= 1; k--) (b1, b2) = (T.FusedMultiplyAdd(twoU, b1, c[k] - b2), b1);
        T q = T.FusedMultiplyAdd(u, b1, c[0] - b2);
        e = T.Exp(-(z * z));
        T tail = Quarter * (T.One + u) * e * q;   // ½·erfc(z): ¼·(1 + u) is ½·t
        return x < T.Zero ? tail : T.One - tail;
    }

    /// <summary><see cref="Cdf(T, out T)"/> on <see cref="Vector{T}"/>'s lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Cdf(Vector<T> x, out Vector<T> e)
    {
        var z = Vector.Min(Vector.Abs(x) * new Vector<T>(InverseRoot2), new Vector<T>(LargestZ));
        var two = new Vector<T>(Two);
        var u = (two - z) / (two + z);
        Vector<T> twoU = u + u, b1 = Vector<T>.Zero, b2 = Vector<T>.Zero;
        var c = Series;
        for (int k = c.Length - 1; k >= 1; k--) (b1, b2) = (Simd.Fma(twoU, b1, new Vector<T>(c[k]) - b2), b1);
        var q = Simd.Fma(u, b1, new Vector<T>(c[0]) - b2);
        e = Simd.Exp(-(z * z));
        var tail = new Vector<T>(Quarter) * (Vector<T>.One + u) * e * q;
        return Vector.ConditionalSelect(Vector.LessThan(x, Vector<T>.Zero), tail, Vector<T>.One - tail);
    }

    /// <summary><see cref="Cdf(T, out T)"/> on 512-bit lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Cdf(Vector512<T> x, out Vector512<T> e)
    {
        var z = Vector512.Min(Vector512.Abs(x) * Vector512.Create(InverseRoot2), Vector512.Create(LargestZ));
        var two = Vector512.Create(Two);
        var u = (two - z) / (two + z);
        Vector512<T> twoU = u + u, b1 = Vector512<T>.Zero, b2 = Vector512<T>.Zero;
        var c = Series;
        for (int k = c.Length - 1; k >= 1; k--) (b1, b2) = (Simd.Fma(twoU, b1, Vector512.Create(c[k]) - b2), b1);
        var q = Simd.Fma(u, b1, Vector512.Create(c[0]) - b2);
        e = Simd.Exp(-(z * z));
        var tail = Vector512.Create(Quarter) * (Vector512<T>.One + u) * e * q;
        return Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<T>.Zero), tail, Vector512<T>.One - tail);
    }
}
