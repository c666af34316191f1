using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ScratchNet.Compute;

/// <summary>
/// Direct convolution at stride 1 with the output channels along the vector lanes: a register tile of one block of
/// output channels (two vectors) × <see cref="Positions"/> output positions sums over a list of kernel taps, loading the
/// block's packed weights of each tap and broadcasting the zero-padded input under each position. Every position has
/// its own base address, so the six may be any positions of the dense output grid, across rows and samples: unlike
/// <see cref="DirectConvolution{T}"/>'s padded grid, nothing is computed and dropped, which is what small planes
/// (7×7 and 3×3 under a 3×3 kernel) need; and each tile takes its own list of taps, so that
/// <see cref="ChannelVectorPlan"/> can leave out the taps that fall in the padding of all six positions. The product
/// comes out position-major and goes back to NCHW through <see cref="ToPlanes"/>.
/// </summary>
/// <remarks>
/// Two vectors × six positions: 12 accumulators, two weight vectors and one broadcast. AVX-512F (<see cref="TileAvx512"/>,
/// 32 channels of float or 16 of double), AVX2 + FMA (<see cref="TileAvx2"/>, 16 or 8) and <see cref="Vector128"/>
/// (<see cref="TileVector128"/>, 8 or 4). AVX-512 has 32 registers, room for a wide tile of four vectors × six positions
/// (<see cref="TileAvx512Wide"/>, 64 channels of float or 32 of double: 24 accumulators), which broadcasts each input
/// value for four vectors instead of two and loads four weight vectors per 24 multiply-adds instead of two per 12.
/// Each lane sums its taps in order with fused multiply-adds, exactly as <see cref="ReferenceTile"/> does.
/// </remarks>
internal static unsafe class ChannelVectorConvolution<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Output positions per register tile.</summary>
    public const int Positions = 6;

    /// <summary>Whether this machine runs the tile of <paramref name="kernel"/>'s instruction set (none for the scalar GEMM path).</summary>
    public static bool Supports(GemmKernel kernel) => DirectWeightGradient<T>.Supports(kernel);

    /// <summary>Output channels per tile of two vectors on <paramref name="kernel"/>'s path, the width every path has.</summary>
    public static int NarrowBlockWidth(GemmKernel kernel) => DirectWeightGradient<T>.BlockWidth(kernel);

    /// <summary>Output channels per tile of <see cref="TileAvx512Wide"/>, AVX-512's four vectors.</summary>
    public static int WideBlockWidth => 4 * Vector512<T>.Count;

    /// <summary>The block widths <paramref name="kernel"/>'s path has tiles for: two vectors, and on AVX-512 four.</summary>
    public static int[] BlockWidths(GemmKernel kernel) =>
        kernel is GemmKernel.Avx512 ? [NarrowBlockWidth(kernel), WideBlockWidth] : [NarrowBlockWidth(kernel)];

    /// <summary>
    /// Output channels per tile for a pass that writes <paramref name="channels"/> channels: the widest of
    /// <see cref="BlockWidths"/> that leaves no more lanes empty than two vectors do (on AVX-512 float, 64 for 64, 128 or
    /// 256 channels, 32 for 96). Measured on Zen 5 (bench conv's shapes, two threads, interleaved in one process), the
    /// wide tile ran 0–20 % faster than two vectors on 15×15, 7×7 and 3×3 planes, forward and backward-data.
    /// </summary>
    public static int BlockWidth(GemmKernel kernel, int channels)
    {
        int narrow = NarrowBlockWidth(kernel), wide = WideBlockWidth;
        return kernel is GemmKernel.Avx512 && (channels + wide - 1) / wide * wide <= (channels + narrow - 1) / narrow * narrow ? wide : narrow;
    }

    /// <summary>
    /// The tile's contract, with BW = <paramref name="blockWidth"/> (one of <see cref="BlockWidths"/>): for
    /// j &lt; <see cref="Positions"/> and lane &lt; BW,
    /// y[j·BW + lane] = (accumulate ? y[j·BW + lane] : 0) + Σ_{t &lt; taps} w[pairs[2t + 1] + lane]·x[bases[j] + pairs[2t]],
    /// the sum taken from zero in tap order: tap t reads the input at offset pairs[2t] from each base and its weights at pairs[2t + 1].
    /// </summary>
    public static void Tile(GemmKernel kernel, int blockWidth, int taps, int* pairs, T* w, T* x, int* bases, T* y, bool accumulate)
    {
        if (kernel is GemmKernel.Avx512 && blockWidth == WideBlockWidth) TileAvx512Wide(taps, pairs, w, x, bases, y, accumulate);
        else if (kernel is GemmKernel.Avx512) TileAvx512(taps, pairs, w, x, bases, y, accumulate);
        else if (kernel is GemmKernel.Vector128) TileVector128(taps, pairs, w, x, bases, y, accumulate);
        else TileAvx2(taps, pairs, w, x, bases, y, accumulate);
    }

    /// <summary><see cref="Tile"/> on AVX-512F: 32 channels of float or 16 of double per block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TileAvx512(int taps, int* pairs, T* w, T* x, int* bases, T* y, bool accumulate)
    {
        int l = Vector512<T>.Count;
        T* p0 = x + bases[0], p1 = x + bases[1], p2 = x + bases[2], p3 = x + bases[3], p4 = x + bases[4], p5 = x + bases[5];
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (long* pair = (long*)pairs, end = pair + taps; pair < end; pair++)
        {
            long both = *pair;   // one load for the pair: (input offset, weight offset), little-endian
            nint o = (int)both;
            T* wt = w + (int)(both >> 32);
            var w0 = Vector512.Load(wt);
            var w1 = Vector512.Load(wt + l);
            var v = Vector512.Create(p0[o]); c00 = Simd.Fma(v, w0, c00); c01 = Simd.Fma(v, w1, c01);
            v = Vector512.Create(p1[o]); c10 = Simd.Fma(v, w0, c10); c11 = Simd.Fma(v, w1, c11);
            v = Vector512.Create(p2[o]); c20 = Simd.Fma(v, w0, c20); c21 = Simd.Fma(v, w1, c21);
            v = Vector512.Create(p3[o]); c30 = Simd.Fma(v, w0, c30); c31 = Simd.Fma(v, w1, c31);
            v = Vector512.Create(p4[o]); c40 = Simd.Fma(v, w0, c40); c41 = Simd.Fma(v, w1, c41);
            v = Vector512.Create(p5[o]); c50 = Simd.Fma(v, w0, c50); c51 = Simd.Fma(v, w1, c51);
        }
        Store(y, c00, c01, accumulate); y += 2 * l;
        Store(y, c10, c11, accumulate); y += 2 * l;
        Store(y, c20, c21, accumulate); y += 2 * l;
        Store(y, c30, c31, accumulate); y += 2 * l;
        Store(y, c40, c41, accumulate); y += 2 * l;
        Store(y, c50, c51, accumulate);
    }

    /// <summary><see cref="Tile"/> on AVX-512F, four vectors wide: 64 channels of float or 32 of double per block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TileAvx512Wide(int taps, int* pairs, T* w, T* x, int* bases, T* y, bool accumulate)
    {
        int l = Vector512<T>.Count;
        T* p0 = x + bases[0], p1 = x + bases[1], p2 = x + bases[2], p3 = x + bases[3], p4 = x + bases[4], p5 = x + bases[5];
        Vector512<T> c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<T> c20 = default, c21 = default, c22 = default, c23 = default, c30 = default, c31 = default, c32 = default, c33 = default;
        Vector512<T> c40 = default, c41 = default, c42 = default, c43 = default, c50 = default, c51 = default, c52 = default, c53 = default;
        for (long* pair = (long*)pairs, end = pair + taps; pair < end; pair++)
        {
            long both = *pair;   // one load for the pair: (input offset, weight offset), little-endian
            nint o = (int)both;
            T* wt = w + (int)(both >> 32);
            var w0 = Vector512.Load(wt);
            var w1 = Vector512.Load(wt + l);
            var w2 = Vector512.Load(wt + 2 * l);
            var w3 = Vector512.Load(wt + 3 * l);
            var v = Vector512.Create(p0[o]); c00 = Simd.Fma(v, w0, c00); c01 = Simd.Fma(v, w1, c01); c02 = Simd.Fma(v, w2, c02); c03 = Simd.Fma(v, w3, c03);
            v = Vector512.Create(p1[o]); c10 = Simd.Fma(v, w0, c10); c11 = Simd.Fma(v, w1, c11); c12 = Simd.Fma(v, w2, c12); c13 = Simd.Fma(v, w3, c13);
            v = Vector512.Create(p2[o]); c20 = Simd.Fma(v, w0, c20); c21 = Simd.Fma(v, w1, c21); c22 = Simd.Fma(v, w2, c22); c23 = Simd.Fma(v, w3, c23);
            v = Vector512.Create(p3[o]); c30 = Simd.Fma(v, w0, c30); c31 = Simd.Fma(v, w1, c31); c32 = Simd.Fma(v, w2, c32); c33 = Simd.Fma(v, w3, c33);
            v = Vector512.Create(p4[o]); c40 = Simd.Fma(v, w0, c40); c41 = Simd.Fma(v, w1, c41); c42 = Simd.Fma(v, w2, c42); c43 = Simd.Fma(v, w3, c43);
            v = Vector512.Create(p5[o]); c50 = Simd.Fma(v, w0, c50); c51 = Simd.Fma(v, w1, c51); c52 = Simd.Fma(v, w2, c52); c53 = Simd.Fma(v, w3, c53);
        }
        Store(y, c00, c01, accumulate); Store(y + 2 * l, c02, c03, accumulate); y += 4 * l;
        Store(y, c10, c11, accumulate); Store(y + 2 * l, c12, c13, accumulate); y += 4 * l;
        Store(y, c20, c21, accumulate); Store(y + 2 * l, c22, c23, accumulate); y += 4 * l;
        Store(y, c30, c31, accumulate); Store(y + 2 * l, c32, c33, accumulate); y += 4 * l;
        Store(y, c40, c41, accumulate); Store(y + 2 * l, c42, c43, accumulate); y += 4 * l;
        Store(y, c50, c51, accumulate); Store(y + 2 * l, c52, c53, accumulate);
    }

    /// <summary><see cref="Tile"/> on AVX2 + FMA.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TileAvx2(int taps, int* pairs, T* w, T* x, int* bases, T* y, bool accumulate)
    {
        int l = Vector256<T>.Count;
        T* p0 = x + bases[0], p1 = x + bases[1], p2 = x + bases[2], p3 = x + bases[3], p4 = x + bases[4], p5 = x + bases[5];
        Vector256<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (long* pair = (long*)pairs, end = pair + taps; pair < end; pair++)
        {
            long both = *pair;   // one load for the pair: (input offset, weight offset), little-endian
            nint o = (int)both;
            T* wt = w + (int)(both >> 32);
            var w0 = Vector256.Load(wt);
            var w1 = Vector256.Load(wt + l);
            var v = Vector256.Create(p0[o]); c00 = MulAdd(v, w0, c00); c01 = MulAdd(v, w1, c01);
            v = Vector256.Create(p1[o]); c10 = MulAdd(v, w0, c10); c11 = MulAdd(v, w1, c11);
            v = Vector256.Create(p2[o]); c20 = MulAdd(v, w0, c20); c21 = MulAdd(v, w1, c21);
            v = Vector256.Create(p3[o]); c30 = MulAdd(v, w0, c30); c31 = MulAdd(v, w1, c31);
            v = Vector256.Create(p4[o]); c40 = MulAdd(v, w0, c40); c41 = MulAdd(v, w1, c41);
            v = Vector256.Create(p5[o]); c50 = MulAdd(v, w0, c50); c51 = MulAdd(v, w1, c51);
        }
        Store(y, c00, c01, accumulate); y += 2 * l;
        Store(y, c10, c11, accumulate); y += 2 * l;
        Store(y, c20, c21, accumulate); y += 2 * l;
        Store(y, c30, c31, accumulate); y += 2 * l;
        Store(y, c40, c41, accumulate); y += 2 * l;
        Store(y, c50, c51, accumulate);
    }

    /// <summary><see cref="Tile"/> through <see cref="Vector128"/> (SSE on x64, AdvSimd on ARM64).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TileVector128(int taps, int* pairs, T* w, T* x, int* bases, T* y, bool accumulate)
    {
        int l = Vector128<T>.Count;
        T* p0 = x + bases[0], p1 = x + bases[1], p2 = x + bases[2], p3 = x + bases[3], p4 = x + bases[4], p5 = x + bases[5];
        Vector128<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector128<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (long* pair = (long*)pairs, end = pair + taps; pair < end; pair++)
        {
            long both = *pair;   // one load for the pair: (input offset, weight offset), little-endian
            nint o = (int)both;
            T* wt = w + (int)(both >> 32);
            var w0 = Vector128.Load(wt);
            var w1 = Vector128.Load(wt + l);
            var v = Vector128.Create(p0[o]); c00 = MulAdd(v, w0, c00); c01 = MulAdd(v, w1, c01);
            v = Vector128.Create(p1[o]); c10 = MulAdd(v, w0, c10); c11 = MulAdd(v, w1, c11);
            v = Vector128.Create(p2[o]); c20 = MulAdd(v, w0, c20); c21 = MulAdd(v, w1, c21);
            v = Vector128.Create(p3[o]); c30 = MulAdd(v, w0, c30); c31 = MulAdd(v, w1, c31);
            v = Vector128.Create(p4[o]); c40 = MulAdd(v, w0, c40); c41 = MulAdd(v, w1, c41);
            v = Vector128.Create(p5[o]); c50 = MulAdd(v, w0, c50); c51 = MulAdd(v, w1, c51);
        }
        Store(y, c00, c01, accumulate); y += 2 * l;
        Store(y, c10, c11, accumulate); y += 2 * l;
        Store(y, c20, c21, accumulate); y += 2 * l;
        Store(y, c30, c31, accumulate); y += 2 * l;
        Store(y, c40, c41, accumulate); y += 2 * l;
        Store(y, c50, c51, accumulate);
    }

    /// <summary>
    /// One sample's block of <paramref name="channels"/> output channels from the tiles' position-major product into NCHW
    /// planes: output[c·plane + p] = rows[sources[p] + c] (+ bias[c]) for c &lt; channels, p &lt; plane. On AVX2 and AVX-512
    /// by square blocks through registers (<see cref="ToPlanesAvx"/>): eight positions' rows of eight channels (four of
    /// double), transposed into eight channels' runs of eight positions, so that each line of the product is read once.
    /// Gathering a channel at a time instead read every product line once per channel, 16 to 64 times, from L2 (the
    /// product of a chunk outgrows L1): at 64 channels on 15×15 planes that took 9 % of the forward pass on Zen 5.
    /// </summary>
    public static void ToPlanes(GemmKernel kernel, T* rows, int* sources, int plane, int channels, T* output, T* bias)
    {
        if (kernel is (GemmKernel.Avx2 or GemmKernel.Avx512) && Avx.IsSupported) ToPlanesAvx(rows, sources, plane, channels, output, bias);
        else ReferenceToPlanes(rows, sources, plane, channels, output, bias);
    }

    /// <summary>
    /// <see cref="ToPlanes"/> by 8×8 (float) or 4×4 (double) transposes in 256-bit registers; the positions and channels
    /// past the last whole square one at a time. Every cache line's worth of positions (16 of float, 8 of double) it
    /// prefetches the output two lines ahead in every channel's plane: the planes are bigger than the caches, so each store
    /// would otherwise wait for its line to come in. On an Emerald Rapids Xeon (a probe outside the repository, two
    /// threads, batch 512, interleaved in one process against no prefetch, medians of 8–16 half-second runs) that read
    /// 64→64 at 15 px forward 282 → 296 GFLOP/s and backward-data 283 → 297, 64→256 forward 308 → 322, 24→64 at 31 px
    /// forward 266 → 273, and 256→256 at 7 px even (359 → 360); three or four lines ahead read no better than two.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ToPlanesAvx(T* rows, int* sources, int plane, int channels, T* output, T* bias)
    {
        int l = Vector256<T>.Count, wholePositions = plane / l * l, wholeChannels = channels / l * l;
        int line = CacheLines.Bytes / sizeof(T), ahead = 2 * line;
        for (int p = 0; p < wholePositions; p += l)
        {
            if (p % line == 0 && p + ahead < plane)
                for (int c = 0; c < channels; c++) Sse.Prefetch0(output + (nint)c * plane + p + ahead);
            for (int c = 0; c < wholeChannels; c += l)
                if (typeof(T) == typeof(float)) Square8((float*)rows, sources + p, c, (float*)output + (nint)c * plane + p, plane, (float*)bias);
                else if (typeof(T) == typeof(double)) Square4((double*)rows, sources + p, c, (double*)output + (nint)c * plane + p, plane, (double*)bias);
                else throw new NotSupportedException(typeof(T).Name);
            for (int c = wholeChannels; c < channels; c++)
                for (int i = 0; i < l; i++) output[(nint)c * plane + p + i] = bias == null ? rows[sources[p + i] + c] : rows[sources[p + i] + c] + bias[c];
        }
        for (int p = wholePositions; p < plane; p++)
            for (int c = 0; c < channels; c++) output[(nint)c * plane + p] = bias == null ? rows[sources[p] + c] : rows[sources[p] + c] + bias[c];
    }

    // Channels [c, c + 8) of the eight positions at[0..8) into eight runs of the planes: target[j·plane + i] = rows[at[i] + c + j] (+ bias[c + j]).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Square8(float* rows, int* at, int c, float* target, int plane, float* bias)
    {
        var v0 = Vector256.Load(rows + at[0] + c); var v1 = Vector256.Load(rows + at[1] + c);
        var v2 = Vector256.Load(rows + at[2] + c); var v3 = Vector256.Load(rows + at[3] + c);
        var v4 = Vector256.Load(rows + at[4] + c); var v5 = Vector256.Load(rows + at[5] + c);
        var v6 = Vector256.Load(rows + at[6] + c); var v7 = Vector256.Load(rows + at[7] + c);
        Transpose.Square(ref v0, ref v1, ref v2, ref v3, ref v4, ref v5, ref v6, ref v7);
        Put(target, v0, bias, c, 0); Put(target + plane, v1, bias, c, 1);
        Put(target + 2 * plane, v2, bias, c, 2); Put(target + 3 * plane, v3, bias, c, 3);
        Put(target + 4 * plane, v4, bias, c, 4); Put(target + 5 * plane, v5, bias, c, 5);
        Put(target + 6 * plane, v6, bias, c, 6); Put(target + 7 * plane, v7, bias, c, 7);
    }

    // The same for four doubles.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Square4(double* rows, int* at, int c, double* target, int plane, double* bias)
    {
        var v0 = Vector256.Load(rows + at[0] + c); var v1 = Vector256.Load(rows + at[1] + c);
        var v2 = Vector256.Load(rows + at[2] + c); var v3 = Vector256.Load(rows + at[3] + c);
        Transpose.Square(ref v0, ref v1, ref v2, ref v3);
        Put(target, v0, bias, c, 0); Put(target + plane, v1, bias, c, 1);
        Put(target + 2 * plane, v2, bias, c, 2); Put(target + 3 * plane, v3, bias, c, 3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put<TLane>(TLane* target, Vector256<TLane> run, TLane* bias, int c, int j) where TLane : unmanaged, IFloatingPointIeee754<TLane> =>
        (bias == null ? run : run + Vector256.Create(bias[c + j])).Store(target);

    /// <summary><see cref="ToPlanes"/> one value at a time: the Vector128 path's, and the gathers' reference.</summary>
    public static void ReferenceToPlanes(T* rows, int* sources, int plane, int channels, T* output, T* bias)
    {
        for (int c = 0; c < channels; c++, output += plane)
            for (int p = 0; p < plane; p++) output[p] = bias == null ? rows[sources[p] + c] : rows[sources[p] + c] + bias[c];
    }

    /// <summary>The tile's algorithmic truth for a block of <paramref name="blockWidth"/> channels: the same sums, one fused multiply-add at a time, in the same order.</summary>
    public static void ReferenceTile(int blockWidth, int taps, int* pairs, T* w, T* x, int* bases, T* y, bool accumulate)
    {
        for (int j = 0; j < Positions; j++)
            for (int lane = 0; lane < blockWidth; lane++)
            {
                T sum = T.Zero;
                for (int t = 0; t < taps; t++) sum = T.FusedMultiplyAdd(x[bases[j] + pairs[2 * t]], w[pairs[2 * t + 1] + lane], sum);
                y[j * blockWidth + lane] = accumulate ? y[j * blockWidth + lane] + sum : sum;
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
