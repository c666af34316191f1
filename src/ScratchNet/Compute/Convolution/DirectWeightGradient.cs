using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ScratchNet.Compute;

/// <summary>
/// Backward-weights at stride 1 without a column matrix: dW[o, t] = Σ over samples and output positions of
/// dy[o, oh, ow]·x[c, oh + ki, ow + kj] on the zero-padded input planes (Hp, Wp), tap t = (c, ki, kj). A register
/// tile holds <see cref="Taps"/> taps × one block of output channels, the channels along the vector lanes: per output
/// position it loads the block's gradients (two vectors of the output gradient transposed to position-major, lanes
/// past the last channel zero) and broadcasts the input under each of the six taps, so every position of the dense
/// output grid is used once (no padded-grid waste, no tails in the position loop) and dW stays in registers over a
/// whole chunk of samples.
/// </summary>
/// <remarks>
/// Two vectors × six taps: 12 accumulators, two gradient vectors and one broadcast. AVX-512F (<see cref="TileAvx512"/>,
/// 32 channels of float or 16 of double), AVX2 + FMA (<see cref="TileAvx2"/>, 16 or 8) and <see cref="Vector128"/>
/// (<see cref="TileVector128"/>, 8 or 4). AVX-512's 32 registers also hold a tile of twelve taps
/// (<see cref="TileAvx512Twelve"/>, 24 accumulators), which loads the two gradient vectors of a position once for
/// twelve taps: half the gradient stream from L2 per multiply-add. Each lane
/// sums its positions in order with fused multiply-adds, exactly as <see cref="ReferenceTile"/> does.
/// </remarks>
internal static unsafe class DirectWeightGradient<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Kernel taps per register tile: the unit the tap slots are rounded to.</summary>
    public const int Taps = 6;

    /// <summary>Kernel taps of the wide tile, on the paths that have one (<see cref="HasTwelveTapTile"/>).</summary>
    public const int TwelveTaps = 2 * Taps;

    /// <summary>
    /// Whether <paramref name="kernel"/>'s path has the twelve-tap tile (AVX-512). Measured on Zen 5 (bench conv's shapes,
    /// two threads, interleaved in one process against the six-tap tile): 0–7 % faster, most on 7×7 and 3×3 planes.
    /// </summary>
    public static bool HasTwelveTapTile(GemmKernel kernel) => kernel is GemmKernel.Avx512;

    /// <summary>Whether this machine runs the tile of <paramref name="kernel"/>'s instruction set (none for the scalar GEMM path).</summary>
    public static bool Supports(GemmKernel kernel) => kernel switch
    {
        GemmKernel.Avx512 => Avx512F.IsSupported,
        GemmKernel.Avx2 => Avx2.IsSupported && Fma.IsSupported,
        GemmKernel.Vector128 => Vector128.IsHardwareAccelerated,
        _ => false,
    };

    /// <summary>Output channels per tile on <paramref name="kernel"/>'s path: two vectors.</summary>
    public static int BlockWidth(GemmKernel kernel) => kernel switch
    {
        GemmKernel.Avx512 => 2 * Vector512<T>.Count,
        GemmKernel.Vector128 => 2 * Vector128<T>.Count,
        _ => 2 * Vector256<T>.Count,
    };

    /// <summary>
    /// The tile's contract, with BW = <see cref="BlockWidth"/>: for j &lt; <paramref name="taps"/> (<see cref="Taps"/>,
    /// or <see cref="TwelveTaps"/> where <see cref="HasTwelveTapTile"/>) and lane &lt; BW,
    /// partial[j·BW + lane] = (accumulate ? partial[j·BW + lane] : 0) + Σ_s Σ_{r0 ≤ r &lt; r1} Σ_{q0 ≤ q &lt; q1}
    /// dy[((s·rows + r)·rowLength + q)·BW + lane] · x[s·sampleStride + r·rowStride + q + offsets[j]], the sum taken
    /// from zero in that order: the window [r0, r1) × [q0, q1) of the (rows, rowLength) output grid leaves out the
    /// positions where all six taps read padding (<see cref="TapWindow"/>).
    /// </summary>
    public static void Tile(GemmKernel kernel, int taps, int samples, nint sampleStride, int rows, int rowLength, nint rowStride, in TapWindow window, int* offsets, T* x, T* dy, T* partial, bool accumulate)
    {
        if (taps == TwelveTaps && HasTwelveTapTile(kernel)) TileAvx512Twelve(samples, sampleStride, rows, rowLength, rowStride, window, offsets, x, dy, partial, accumulate);
        else if (taps != Taps) throw new ArgumentOutOfRangeException(nameof(taps), taps, $"the {kernel} path has no tile of that many taps");
        else if (kernel is GemmKernel.Avx512) TileAvx512(samples, sampleStride, rows, rowLength, rowStride, window, offsets, x, dy, partial, accumulate);
        else if (kernel is GemmKernel.Vector128) TileVector128(samples, sampleStride, rows, rowLength, rowStride, window, offsets, x, dy, partial, accumulate);
        else TileAvx2(samples, sampleStride, rows, rowLength, rowStride, window, offsets, x, dy, partial, accumulate);
    }

    /// <summary>
    /// The output rows [<paramref name="FirstRow"/>, <paramref name="EndRow"/>) and columns [<paramref name="FirstColumn"/>,
    /// <paramref name="EndColumn"/>) whose input under a kernel tap (ki, kj) lies inside the image: the positions a tile of
    /// taps that share (ki, kj) sums over. Near the border the others read only zero padding.
    /// </summary>
    public readonly record struct TapWindow(int FirstRow, int EndRow, int FirstColumn, int EndColumn)
    {
        /// <summary>The window of tap (<paramref name="ki"/>, <paramref name="kj"/>) of <paramref name="g"/> (stride 1, on its padded grid).</summary>
        public static TapWindow Of(in ConvGeometry g, int ki, int kj) => new(
            Math.Max(0, g.PadTop - ki), Math.Min(g.OutHeight, g.Height + g.PadTop - ki),
            Math.Max(0, g.PadLeft - kj), Math.Min(g.OutWidth, g.Width + g.PadLeft - kj));

        /// <summary>The whole (rows, rowLength) grid.</summary>
        public static TapWindow All(int rows, int rowLength) => new(0, rows, 0, rowLength);
    }

    /// <summary><see cref="Tile"/> on AVX-512F.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TileAvx512(int samples, nint sampleStride, int rows, int rowLength, nint rowStride, in TapWindow window, int* offsets, T* x, T* dy, T* partial, bool accumulate)
    {
        int l = Vector512<T>.Count;
        nint o0 = offsets[0], o1 = offsets[1], o2 = offsets[2], o3 = offsets[3], o4 = offsets[4], o5 = offsets[5];
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        int columns = window.EndColumn - window.FirstColumn;
        for (int s = 0; s < samples; s++)
            for (int r = window.FirstRow; r < window.EndRow; r++)
            {
                T* p = x + s * sampleStride + r * rowStride + window.FirstColumn;
                T* end = p + columns;
                for (T* d = dy + ((nint)(s * rows + r) * rowLength + window.FirstColumn) * 2 * l; p < end; p++, d += 2 * l)
                {
                    var d0 = Vector512.Load(d);
                    var d1 = Vector512.Load(d + l);
                    var v = Vector512.Create(p[o0]); c00 = Simd.Fma(v, d0, c00); c01 = Simd.Fma(v, d1, c01);
                    v = Vector512.Create(p[o1]); c10 = Simd.Fma(v, d0, c10); c11 = Simd.Fma(v, d1, c11);
                    v = Vector512.Create(p[o2]); c20 = Simd.Fma(v, d0, c20); c21 = Simd.Fma(v, d1, c21);
                    v = Vector512.Create(p[o3]); c30 = Simd.Fma(v, d0, c30); c31 = Simd.Fma(v, d1, c31);
                    v = Vector512.Create(p[o4]); c40 = Simd.Fma(v, d0, c40); c41 = Simd.Fma(v, d1, c41);
                    v = Vector512.Create(p[o5]); c50 = Simd.Fma(v, d0, c50); c51 = Simd.Fma(v, d1, c51);
                }
            }
        Store(partial, c00, c01, accumulate); partial += 2 * l;
        Store(partial, c10, c11, accumulate); partial += 2 * l;
        Store(partial, c20, c21, accumulate); partial += 2 * l;
        Store(partial, c30, c31, accumulate); partial += 2 * l;
        Store(partial, c40, c41, accumulate); partial += 2 * l;
        Store(partial, c50, c51, accumulate);
    }

    /// <summary><see cref="Tile"/> on AVX-512F over twelve taps.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TileAvx512Twelve(int samples, nint sampleStride, int rows, int rowLength, nint rowStride, in TapWindow window, int* offsets, T* x, T* dy, T* partial, bool accumulate)
    {
        int l = Vector512<T>.Count;
        nint o0 = offsets[0], o1 = offsets[1], o2 = offsets[2], o3 = offsets[3], o4 = offsets[4], o5 = offsets[5];
        nint o6 = offsets[6], o7 = offsets[7], o8 = offsets[8], o9 = offsets[9], oa = offsets[10], ob = offsets[11];
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<T> c60 = default, c61 = default, c70 = default, c71 = default, c80 = default, c81 = default;
        Vector512<T> c90 = default, c91 = default, ca0 = default, ca1 = default, cb0 = default, cb1 = default;
        int columns = window.EndColumn - window.FirstColumn;
        for (int s = 0; s < samples; s++)
            for (int r = window.FirstRow; r < window.EndRow; r++)
            {
                T* p = x + s * sampleStride + r * rowStride + window.FirstColumn;
                T* end = p + columns;
                for (T* d = dy + ((nint)(s * rows + r) * rowLength + window.FirstColumn) * 2 * l; p < end; p++, d += 2 * l)
                {
                    var d0 = Vector512.Load(d);
                    var d1 = Vector512.Load(d + l);
                    var v = Vector512.Create(p[o0]); c00 = Simd.Fma(v, d0, c00); c01 = Simd.Fma(v, d1, c01);
                    v = Vector512.Create(p[o1]); c10 = Simd.Fma(v, d0, c10); c11 = Simd.Fma(v, d1, c11);
                    v = Vector512.Create(p[o2]); c20 = Simd.Fma(v, d0, c20); c21 = Simd.Fma(v, d1, c21);
                    v = Vector512.Create(p[o3]); c30 = Simd.Fma(v, d0, c30); c31 = Simd.Fma(v, d1, c31);
                    v = Vector512.Create(p[o4]); c40 = Simd.Fma(v, d0, c40); c41 = Simd.Fma(v, d1, c41);
                    v = Vector512.Create(p[o5]); c50 = Simd.Fma(v, d0, c50); c51 = Simd.Fma(v, d1, c51);
                    v = Vector512.Create(p[o6]); c60 = Simd.Fma(v, d0, c60); c61 = Simd.Fma(v, d1, c61);
                    v = Vector512.Create(p[o7]); c70 = Simd.Fma(v, d0, c70); c71 = Simd.Fma(v, d1, c71);
                    v = Vector512.Create(p[o8]); c80 = Simd.Fma(v, d0, c80); c81 = Simd.Fma(v, d1, c81);
                    v = Vector512.Create(p[o9]); c90 = Simd.Fma(v, d0, c90); c91 = Simd.Fma(v, d1, c91);
                    v = Vector512.Create(p[oa]); ca0 = Simd.Fma(v, d0, ca0); ca1 = Simd.Fma(v, d1, ca1);
                    v = Vector512.Create(p[ob]); cb0 = Simd.Fma(v, d0, cb0); cb1 = Simd.Fma(v, d1, cb1);
                }
            }
        Store(partial, c00, c01, accumulate); partial += 2 * l;
        Store(partial, c10, c11, accumulate); partial += 2 * l;
        Store(partial, c20, c21, accumulate); partial += 2 * l;
        Store(partial, c30, c31, accumulate); partial += 2 * l;
        Store(partial, c40, c41, accumulate); partial += 2 * l;
        Store(partial, c50, c51, accumulate); partial += 2 * l;
        Store(partial, c60, c61, accumulate); partial += 2 * l;
        Store(partial, c70, c71, accumulate); partial += 2 * l;
        Store(partial, c80, c81, accumulate); partial += 2 * l;
        Store(partial, c90, c91, accumulate); partial += 2 * l;
        Store(partial, ca0, ca1, accumulate); partial += 2 * l;
        Store(partial, cb0, cb1, accumulate);
    }

    /// <summary><see cref="Tile"/> on AVX2 + FMA.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TileAvx2(int samples, nint sampleStride, int rows, int rowLength, nint rowStride, in TapWindow window, int* offsets, T* x, T* dy, T* partial, bool accumulate)
    {
        int l = Vector256<T>.Count;
        nint o0 = offsets[0], o1 = offsets[1], o2 = offsets[2], o3 = offsets[3], o4 = offsets[4], o5 = offsets[5];
        Vector256<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        int columns = window.EndColumn - window.FirstColumn;
        for (int s = 0; s < samples; s++)
            for (int r = window.FirstRow; r < window.EndRow; r++)
            {
                T* p = x + s * sampleStride + r * rowStride + window.FirstColumn;
                T* end = p + columns;
                for (T* d = dy + ((nint)(s * rows + r) * rowLength + window.FirstColumn) * 2 * l; p < end; p++, d += 2 * l)
                {
                    var d0 = Vector256.Load(d);
                    var d1 = Vector256.Load(d + l);
                    var v = Vector256.Create(p[o0]); c00 = MulAdd(v, d0, c00); c01 = MulAdd(v, d1, c01);
                    v = Vector256.Create(p[o1]); c10 = MulAdd(v, d0, c10); c11 = MulAdd(v, d1, c11);
                    v = Vector256.Create(p[o2]); c20 = MulAdd(v, d0, c20); c21 = MulAdd(v, d1, c21);
                    v = Vector256.Create(p[o3]); c30 = MulAdd(v, d0, c30); c31 = MulAdd(v, d1, c31);
                    v = Vector256.Create(p[o4]); c40 = MulAdd(v, d0, c40); c41 = MulAdd(v, d1, c41);
                    v = Vector256.Create(p[o5]); c50 = MulAdd(v, d0, c50); c51 = MulAdd(v, d1, c51);
                }
            }
        Store(partial, c00, c01, accumulate); partial += 2 * l;
        Store(partial, c10, c11, accumulate); partial += 2 * l;
        Store(partial, c20, c21, accumulate); partial += 2 * l;
        Store(partial, c30, c31, accumulate); partial += 2 * l;
        Store(partial, c40, c41, accumulate); partial += 2 * l;
        Store(partial, c50, c51, accumulate);
    }

    /// <summary><see cref="Tile"/> through <see cref="Vector128"/> (SSE on x64, AdvSimd on ARM64).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TileVector128(int samples, nint sampleStride, int rows, int rowLength, nint rowStride, in TapWindow window, int* offsets, T* x, T* dy, T* partial, bool accumulate)
    {
        int l = Vector128<T>.Count;
        nint o0 = offsets[0], o1 = offsets[1], o2 = offsets[2], o3 = offsets[3], o4 = offsets[4], o5 = offsets[5];
        Vector128<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector128<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        int columns = window.EndColumn - window.FirstColumn;
        for (int s = 0; s < samples; s++)
            for (int r = window.FirstRow; r < window.EndRow; r++)
            {
                T* p = x + s * sampleStride + r * rowStride + window.FirstColumn;
                T* end = p + columns;
                for (T* d = dy + ((nint)(s * rows + r) * rowLength + window.FirstColumn) * 2 * l; p < end; p++, d += 2 * l)
                {
                    var d0 = Vector128.Load(d);
                    var d1 = Vector128.Load(d + l);
                    var v = Vector128.Create(p[o0]); c00 = MulAdd(v, d0, c00); c01 = MulAdd(v, d1, c01);
                    v = Vector128.Create(p[o1]); c10 = MulAdd(v, d0, c10); c11 = MulAdd(v, d1, c11);
                    v = Vector128.Create(p[o2]); c20 = MulAdd(v, d0, c20); c21 = MulAdd(v, d1, c21);
                    v = Vector128.Create(p[o3]); c30 = MulAdd(v, d0, c30); c31 = MulAdd(v, d1, c31);
                    v = Vector128.Create(p[o4]); c40 = MulAdd(v, d0, c40); c41 = MulAdd(v, d1, c41);
                    v = Vector128.Create(p[o5]); c50 = MulAdd(v, d0, c50); c51 = MulAdd(v, d1, c51);
                }
            }
        Store(partial, c00, c01, accumulate); partial += 2 * l;
        Store(partial, c10, c11, accumulate); partial += 2 * l;
        Store(partial, c20, c21, accumulate); partial += 2 * l;
        Store(partial, c30, c31, accumulate); partial += 2 * l;
        Store(partial, c40, c41, accumulate); partial += 2 * l;
        Store(partial, c50, c51, accumulate);
    }

    /// <summary>The tile's algorithmic truth for a block of <paramref name="blockWidth"/> channels: the same sums, one fused multiply-add at a time, in the same order.</summary>
    public static void ReferenceTile(int blockWidth, int taps, int samples, nint sampleStride, int rows, int rowLength, nint rowStride, in TapWindow window, int* offsets, T* x, T* dy, T* partial, bool accumulate)
    {
        for (int j = 0; j < taps; j++)
            for (int lane = 0; lane < blockWidth; lane++)
            {
                T sum = T.Zero;
                for (int s = 0; s < samples; s++)
                    for (int r = window.FirstRow; r < window.EndRow; r++)
                        for (int q = window.FirstColumn; q < window.EndColumn; q++)
                            sum = T.FusedMultiplyAdd(dy[((s * rows + r) * rowLength + q) * blockWidth + lane], x[s * sampleStride + r * rowStride + q + offsets[j]], sum);
                partial[j * blockWidth + lane] = accumulate ? partial[j * blockWidth + lane] + sum : sum;
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(T* target, Vector512<T> v0, Vector512<T> v1, bool accumulate)
    {
        int l = Vector512<T>.Count;
        if (accumulate)
        {
            v0 += Vector512.Load(target);
            v1 += Vector512.Load(target + l);
        }
        v0.Store(target);
        v1.Store(target + l);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(T* target, Vector256<T> v0, Vector256<T> v1, bool accumulate)
    {
        int l = Vector256<T>.Count;
        if (accumulate)
        {
            v0 += Vector256.Load(target);
            v1 += Vector256.Load(target + l);
        }
        v0.Store(target);
        v1.Store(target + l);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(T* target, Vector128<T> v0, Vector128<T> v1, bool accumulate)
    {
        int l = Vector128<T>.Count;
        if (accumulate)
        {
            v0 += Vector128.Load(target);
            v1 += Vector128.Load(target + l);
        }
        v0.Store(target);
        v1.Store(target + l);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> MulAdd(Vector256<T> x, Vector256<T> y, Vector256<T> addend)
    {
        if (typeof(T) == typeof(float)) return Fma.MultiplyAdd(x.AsSingle(), y.AsSingle(), addend.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Fma.MultiplyAdd(x.AsDouble(), y.AsDouble(), addend.AsDouble()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<T> MulAdd(Vector128<T> x, Vector128<T> y, Vector128<T> addend)
    {
        if (typeof(T) == typeof(float)) return Vector128.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), addend.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector128.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), addend.AsDouble()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }
}
