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
/// (<see cref="TileVector128"/>, 8 or 4); each lane
/// sums its taps in order with fused multiply-adds, exactly as <see cref="ReferenceTile"/> does.
/// </remarks>
internal static unsafe class ChannelVectorConvolution<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Output positions per register tile.</summary>
    public const int Positions = 6;

    /// <summary>Whether this machine runs the tile of <paramref name="kernel"/>'s instruction set (none for the scalar GEMM path).</summary>
    public static bool Supports(GemmKernel kernel) => DirectWeightGradient<T>.Supports(kernel);

    /// <summary>Output channels per tile on <paramref name="kernel"/>'s path: two vectors.</summary>
    public static int BlockWidth(GemmKernel kernel) => DirectWeightGradient<T>.BlockWidth(kernel);

    /// <summary>
    /// The tile's contract, with BW = <see cref="BlockWidth"/>: for j &lt; <see cref="Positions"/> and lane &lt; BW,
    /// y[j·BW + lane] = (accumulate ? y[j·BW + lane] : 0) + Σ_{t &lt; taps} w[pairs[2t + 1] + lane]·x[bases[j] + pairs[2t]],
    /// the sum taken from zero in tap order: tap t reads the input at offset pairs[2t] from each base and its weights at pairs[2t + 1].
    /// </summary>
    public static void Tile(GemmKernel kernel, int taps, int* pairs, T* w, T* x, int* bases, T* y, bool accumulate)
    {
        if (kernel is GemmKernel.Avx512) TileAvx512(taps, pairs, w, x, bases, y, accumulate);
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
    /// planes: output[c·plane + p] = rows[sources[p] + c] (+ bias[c]) for c &lt; channels, p &lt; plane, channel by channel
    /// along the plane, the product's values gathered by vector (AVX2's gathers, on the AVX-512 path too: .NET has no 512-bit
    /// gather). Stored value by value across the channels, 16 to 32 planes apart, the product took a tenth of the pass on
    /// 15×15 planes with 256 output channels.
    /// </summary>
    public static void ToPlanes(GemmKernel kernel, T* rows, int* sources, int plane, int channels, T* output, T* bias)
    {
        if (kernel is (GemmKernel.Avx2 or GemmKernel.Avx512) && Avx2.IsSupported) ToPlanesAvx2(rows, sources, plane, channels, output, bias);
        else ReferenceToPlanes(rows, sources, plane, channels, output, bias);
    }

    /// <summary><see cref="ToPlanes"/> with AVX2 gathers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ToPlanesAvx2(T* rows, int* sources, int plane, int channels, T* output, T* bias)
    {
        int l = Vector256<T>.Count, whole = plane / l * l;
        for (int c = 0; c < channels; c++, output += plane)
        {
            T* column = rows + c;
            T add = bias == null ? T.Zero : bias[c];
            var addend = Vector256.Create(add);
            int p = 0;
            if (bias == null)
                for (; p < whole; p += l) Gather(column, sources + p).Store(output + p);
            else
                for (; p < whole; p += l) (Gather(column, sources + p) + addend).Store(output + p);
            for (; p < plane; p++) output[p] = bias == null ? column[sources[p]] : column[sources[p]] + add;
        }

        static Vector256<T> Gather(T* column, int* at)
        {
            if (typeof(T) == typeof(float)) return Avx2.GatherVector256((float*)column, Vector256.Load(at), 4).As<float, T>();
            if (typeof(T) == typeof(double)) return Avx2.GatherVector256((double*)column, Vector128.Load(at), 8).As<double, T>();
            throw new NotSupportedException(typeof(T).Name);
        }
    }

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
