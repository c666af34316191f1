using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ScratchNet.Compute;

/// <summary>
/// Direct convolution at stride 1 without a column matrix: the sample is copied once into a zero-padded
/// buffer of planes (Hp, Wp), and the output is computed on the padded grid, q = oh·Wp + ow for ow &lt; Wp, where
/// every kernel tap (c, ki, kj) reads the input at the fixed offset c·Hp·Wp + ki·Wp + kj from q: consecutive q
/// read consecutive input, so a register tile of <see cref="MR"/> output channels × <see cref="NR"/> positions
/// sums over the taps with plain vector loads and weight broadcasts. Positions ow ≥ OW are computed and dropped
/// (2·pad of every Wp: 6 % at 32 px, 20 % at 8 px). Backward-data is the same kernel on the output gradient with
/// the weights flipped and transposed and the padding K − 1 − pad.
/// </summary>
/// <remarks>
/// AVX2 + FMA micro-kernel, 4 rows × 3 vectors (4×24 for float, 4×12 for double): 12 accumulators, three input
/// vectors and one broadcast. Each output element sums its taps in order on one thread: deterministic.
/// <see cref="ReferenceTile"/> is its scalar twin for tests.
/// </remarks>
internal static unsafe class DirectConvolution<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Output channels per register tile.</summary>
    public const int MR = 4;

    /// <summary>Output positions per register tile: three vectors.</summary>
    public static int NR => 3 * Vector256<T>.Count;

    /// <summary>Whether this machine runs the micro-kernel.</summary>
    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>
    /// The tile y[r, j] (r &lt; MR, j &lt; NR, rows <paramref name="ldy"/> apart) = Σ_t w[t·MR + r]·x[offsets[t] + j] over
    /// <paramref name="taps"/> taps; overwrites y.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile(int taps, int* offsets, T* w, T* x, T* y, nint ldy)
    {
        int l = Vector256<T>.Count;
        Vector256<T> c00 = default, c01 = default, c02 = default, c10 = default, c11 = default, c12 = default;
        Vector256<T> c20 = default, c21 = default, c22 = default, c30 = default, c31 = default, c32 = default;
        for (int t = 0; t < taps; t++, w += MR)
        {
            T* s = x + offsets[t];
            var x0 = Vector256.Load(s);
            var x1 = Vector256.Load(s + l);
            var x2 = Vector256.Load(s + 2 * l);
            var wr = Vector256.Create(w[0]); c00 = MulAdd(wr, x0, c00); c01 = MulAdd(wr, x1, c01); c02 = MulAdd(wr, x2, c02);
            wr = Vector256.Create(w[1]); c10 = MulAdd(wr, x0, c10); c11 = MulAdd(wr, x1, c11); c12 = MulAdd(wr, x2, c12);
            wr = Vector256.Create(w[2]); c20 = MulAdd(wr, x0, c20); c21 = MulAdd(wr, x1, c21); c22 = MulAdd(wr, x2, c22);
            wr = Vector256.Create(w[3]); c30 = MulAdd(wr, x0, c30); c31 = MulAdd(wr, x1, c31); c32 = MulAdd(wr, x2, c32);
        }
        c00.Store(y); c01.Store(y + l); c02.Store(y + 2 * l); y += ldy;
        c10.Store(y); c11.Store(y + l); c12.Store(y + 2 * l); y += ldy;
        c20.Store(y); c21.Store(y + l); c22.Store(y + 2 * l); y += ldy;
        c30.Store(y); c31.Store(y + l); c32.Store(y + 2 * l);
    }

    /// <summary>The micro-kernel's algorithmic truth: the same sums, one fused multiply-add at a time, in the same order.</summary>
    public static void ReferenceTile(int taps, int* offsets, T* w, T* x, T* y, nint ldy)
    {
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < NR; j++)
            {
                T sum = T.Zero;
                for (int t = 0; t < taps; t++) sum = T.FusedMultiplyAdd(w[t * MR + r], x[offsets[t] + j], sum);
                y[r * ldy + j] = sum;
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> MulAdd(Vector256<T> x, Vector256<T> y, Vector256<T> addend)
    {
        if (typeof(T) == typeof(float)) return Fma.MultiplyAdd(x.AsSingle(), y.AsSingle(), addend.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Fma.MultiplyAdd(x.AsDouble(), y.AsDouble(), addend.AsDouble()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }
}
