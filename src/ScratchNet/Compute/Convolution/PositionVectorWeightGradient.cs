using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ScratchNet.Compute;

/// <summary>
/// Backward-weights at stride 1 for kernels with few taps (airbench's whitening conv: 3 channels × 2 × 2 = 12), with the
/// output positions along the vector lanes: dW[o, t] = Σ over samples and output rows of
/// Σ_ow dy[o, oh, ow]·x[c, oh + ki, ow + kj] on the zero-padded input planes. A register tile holds <see cref="Rows"/>
/// output channels × <see cref="Taps"/> taps of lane-wise partial sums; per vector of positions it loads each channel's
/// output gradient straight from NCHW (no transpose: <see cref="DirectWeightGradient{T}"/> transposes the gradient once
/// per block of 16 channels, which a dozen taps cannot repay) and each tap's input, so 7 loads feed 12 multiply-adds.
/// The lanes are summed once, at the end of the pass.
/// </summary>
/// <remarks>
/// AVX-512F (<see cref="TileAvx512"/>, 16 float lanes) and AVX2 + FMA (<see cref="TileAvx2"/>, 8). A row's last vector
/// loads only its valid lanes (a masked load: the gradient's rows are packed, and the last one ends the buffer) and masks
/// the input likewise, so what lies past the row adds nothing, not even a NaN. Each lane sums its positions in order
/// (rows, then samples): <see cref="ReferenceTile"/> is its scalar twin.
/// </remarks>
internal static unsafe class PositionVectorWeightGradient<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Output channels per register tile.</summary>
    public const int Rows = 4;

    /// <summary>Kernel taps per register tile.</summary>
    public const int Taps = 3;

    /// <summary>The most taps (C·KH·KW) for which this kernel serves backward-weights instead of <see cref="DirectWeightGradient{T}"/>.</summary>
    public const int MostTaps = 16;

    /// <summary>Whether this machine runs the AVX2 tile (every machine with AVX-512F does).</summary>
    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>Whether this machine runs the tile of <paramref name="kernel"/>'s path: AVX-512 or AVX2.</summary>
    public static bool Supports(GemmKernel kernel) => kernel switch
    {
        GemmKernel.Avx512 => Avx512F.IsSupported && IsSupported,
        GemmKernel.Avx2 => IsSupported,
        _ => false,
    };

    /// <summary>The lanes L of <paramref name="kernel"/>'s vectors: the partial sums hold Rows·Taps·L values.</summary>
    public static int Lanes(GemmKernel kernel) => kernel is GemmKernel.Avx512 ? Vector512<T>.Count : Vector256<T>.Count;

    /// <summary>
    /// The tile's contract, with L = <see cref="Lanes"/>: for r &lt; <see cref="Rows"/>, j &lt; <see cref="Taps"/>
    /// and lane &lt; L, partial[(r·Taps + j)·L + lane] += Σ_{h &lt; height} Σ_{ow ≡ lane (mod L), ow &lt; width}
    /// dy[r][h·width + ow]·x[h·xStride + offsets[j] + ow], the positions taken in order; dy[r] are the four channels'
    /// gradient planes. x must be readable L values past each row's last position read.
    /// </summary>
    public static void Tile(GemmKernel kernel, int height, int width, T* dy0, T* dy1, T* dy2, T* dy3, T* x, nint xStride, int* offsets, T* partial)
    {
        if (kernel is GemmKernel.Avx512) TileAvx512(height, width, dy0, dy1, dy2, dy3, x, xStride, offsets, partial);
        else TileAvx2(height, width, dy0, dy1, dy2, dy3, x, xStride, offsets, partial);
    }

    /// <summary><see cref="Tile"/> on AVX-512F.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TileAvx512(int height, int width, T* dy0, T* dy1, T* dy2, T* dy3, T* x, nint xStride, int* offsets, T* partial)
    {
        int l = Vector512<T>.Count;
        var p = (Vector512<T>*)partial;
        Vector512<T> c00 = p[0], c01 = p[1], c02 = p[2], c10 = p[3], c11 = p[4], c12 = p[5];
        Vector512<T> c20 = p[6], c21 = p[7], c22 = p[8], c30 = p[9], c31 = p[10], c32 = p[11];
        nint o0 = offsets[0], o1 = offsets[1], o2 = offsets[2];
        int whole = width / l * l;
        var mask = Vector512.LessThan(Vector512<T>.Indices, Vector512.Create(T.CreateTruncating(width - whole)));
        for (int h = 0; h < height; h++, x += xStride, dy0 += width, dy1 += width, dy2 += width, dy3 += width)
        {
            for (int ow = 0; ow < whole; ow += l)
            {
                var x0 = Vector512.Load(x + o0 + ow);
                var x1 = Vector512.Load(x + o1 + ow);
                var x2 = Vector512.Load(x + o2 + ow);
                var d = Vector512.Load(dy0 + ow); c00 = Simd.Fma(d, x0, c00); c01 = Simd.Fma(d, x1, c01); c02 = Simd.Fma(d, x2, c02);
                d = Vector512.Load(dy1 + ow); c10 = Simd.Fma(d, x0, c10); c11 = Simd.Fma(d, x1, c11); c12 = Simd.Fma(d, x2, c12);
                d = Vector512.Load(dy2 + ow); c20 = Simd.Fma(d, x0, c20); c21 = Simd.Fma(d, x1, c21); c22 = Simd.Fma(d, x2, c22);
                d = Vector512.Load(dy3 + ow); c30 = Simd.Fma(d, x0, c30); c31 = Simd.Fma(d, x1, c31); c32 = Simd.Fma(d, x2, c32);
            }
            if (whole < width)
            {
                // tail: the row's last width − whole positions
                var x0 = Vector512.Load(x + o0 + whole) & mask;
                var x1 = Vector512.Load(x + o1 + whole) & mask;
                var x2 = Vector512.Load(x + o2 + whole) & mask;
                var d = MaskLoad(dy0 + whole, mask); c00 = Simd.Fma(d, x0, c00); c01 = Simd.Fma(d, x1, c01); c02 = Simd.Fma(d, x2, c02);
                d = MaskLoad(dy1 + whole, mask); c10 = Simd.Fma(d, x0, c10); c11 = Simd.Fma(d, x1, c11); c12 = Simd.Fma(d, x2, c12);
                d = MaskLoad(dy2 + whole, mask); c20 = Simd.Fma(d, x0, c20); c21 = Simd.Fma(d, x1, c21); c22 = Simd.Fma(d, x2, c22);
                d = MaskLoad(dy3 + whole, mask); c30 = Simd.Fma(d, x0, c30); c31 = Simd.Fma(d, x1, c31); c32 = Simd.Fma(d, x2, c32);
            }
        }
        p[0] = c00; p[1] = c01; p[2] = c02; p[3] = c10; p[4] = c11; p[5] = c12;
        p[6] = c20; p[7] = c21; p[8] = c22; p[9] = c30; p[10] = c31; p[11] = c32;
    }

    /// <summary><see cref="Tile"/> on AVX2 + FMA.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TileAvx2(int height, int width, T* dy0, T* dy1, T* dy2, T* dy3, T* x, nint xStride, int* offsets, T* partial)
    {
        int l = Vector256<T>.Count;
        var p = (Vector256<T>*)partial;
        Vector256<T> c00 = p[0], c01 = p[1], c02 = p[2], c10 = p[3], c11 = p[4], c12 = p[5];
        Vector256<T> c20 = p[6], c21 = p[7], c22 = p[8], c30 = p[9], c31 = p[10], c32 = p[11];
        nint o0 = offsets[0], o1 = offsets[1], o2 = offsets[2];
        int whole = width / l * l;
        var mask = TailMask(width - whole);
        for (int h = 0; h < height; h++, x += xStride, dy0 += width, dy1 += width, dy2 += width, dy3 += width)
        {
            for (int ow = 0; ow < whole; ow += l)
            {
                var x0 = Vector256.Load(x + o0 + ow);
                var x1 = Vector256.Load(x + o1 + ow);
                var x2 = Vector256.Load(x + o2 + ow);
                var d = Vector256.Load(dy0 + ow); c00 = MulAdd(d, x0, c00); c01 = MulAdd(d, x1, c01); c02 = MulAdd(d, x2, c02);
                d = Vector256.Load(dy1 + ow); c10 = MulAdd(d, x0, c10); c11 = MulAdd(d, x1, c11); c12 = MulAdd(d, x2, c12);
                d = Vector256.Load(dy2 + ow); c20 = MulAdd(d, x0, c20); c21 = MulAdd(d, x1, c21); c22 = MulAdd(d, x2, c22);
                d = Vector256.Load(dy3 + ow); c30 = MulAdd(d, x0, c30); c31 = MulAdd(d, x1, c31); c32 = MulAdd(d, x2, c32);
            }
            if (whole < width)
            {
                // tail: the row's last width − whole positions
                var x0 = Vector256.Load(x + o0 + whole) & mask;
                var x1 = Vector256.Load(x + o1 + whole) & mask;
                var x2 = Vector256.Load(x + o2 + whole) & mask;
                var d = MaskLoad(dy0 + whole, mask); c00 = MulAdd(d, x0, c00); c01 = MulAdd(d, x1, c01); c02 = MulAdd(d, x2, c02);
                d = MaskLoad(dy1 + whole, mask); c10 = MulAdd(d, x0, c10); c11 = MulAdd(d, x1, c11); c12 = MulAdd(d, x2, c12);
                d = MaskLoad(dy2 + whole, mask); c20 = MulAdd(d, x0, c20); c21 = MulAdd(d, x1, c21); c22 = MulAdd(d, x2, c22);
                d = MaskLoad(dy3 + whole, mask); c30 = MulAdd(d, x0, c30); c31 = MulAdd(d, x1, c31); c32 = MulAdd(d, x2, c32);
            }
        }
        p[0] = c00; p[1] = c01; p[2] = c02; p[3] = c10; p[4] = c11; p[5] = c12;
        p[6] = c20; p[7] = c21; p[8] = c22; p[9] = c30; p[10] = c31; p[11] = c32;
    }

    /// <summary>The tile's algorithmic truth for <paramref name="l"/> lanes: the same lane-wise sums, one fused multiply-add at a time, in the same order.</summary>
    public static void ReferenceTile(int l, int height, int width, T* dy0, T* dy1, T* dy2, T* dy3, T* x, nint xStride, int* offsets, T* partial)
    {
        T*[] dy = [dy0, dy1, dy2, dy3];
        for (int r = 0; r < Rows; r++)
            for (int j = 0; j < Taps; j++)
                for (int h = 0; h < height; h++)
                    for (int ow = 0; ow < width; ow++)
                    {
                        ref T sum = ref partial[(r * Taps + j) * l + ow % l];
                        sum = T.FusedMultiplyAdd(dy[r][h * width + ow], x[h * xStride + offsets[j] + ow], sum);
                    }
    }

    // All ones in the first count lanes (count < L), zero after.
    private static Vector256<T> TailMask(int count)
    {
        var lanes = Vector256<T>.Indices;
        return Vector256.LessThan(lanes, Vector256.Create(T.CreateTruncating(count)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> MaskLoad(T* source, Vector512<T> mask)
    {
        if (typeof(T) == typeof(float)) return Avx512F.MaskLoad((float*)source, mask.AsSingle(), Vector512<float>.Zero).As<float, T>();
        if (typeof(T) == typeof(double)) return Avx512F.MaskLoad((double*)source, mask.AsDouble(), Vector512<double>.Zero).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> MaskLoad(T* source, Vector256<T> mask)
    {
        if (typeof(T) == typeof(float)) return Avx.MaskLoad((float*)source, mask.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Avx.MaskLoad((double*)source, mask.AsDouble()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> MulAdd(Vector256<T> x, Vector256<T> y, Vector256<T> addend)
    {
        if (typeof(T) == typeof(float)) return Fma.MultiplyAdd(x.AsSingle(), y.AsSingle(), addend.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Fma.MultiplyAdd(x.AsDouble(), y.AsDouble(), addend.AsDouble()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }
}
