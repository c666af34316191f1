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
/// (2·pad of every Wp: 6 % at 32 px, 20 % at 8 px): the tile stores each vector's kept lanes straight into the NCHW
/// output (<see cref="GridStores"/>). Backward-data is the same kernel on the output gradient with the weights flipped
/// and transposed and the padding K − 1 − pad.
/// </summary>
/// <remarks>
/// Micro-kernels of 4 rows × 3 vectors, AVX-512F (4×48 for float, 4×24 for double) and AVX2 + FMA (4×24, 4×12): 12
/// accumulators, three input vectors and one broadcast. Each output element sums its taps in order on one thread: deterministic.
/// <see cref="ReferenceTile"/> is its scalar twin for tests, on a dense grid.
/// </remarks>
internal static unsafe class DirectConvolution<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Output channels per register tile.</summary>
    public const int MR = 4;

    /// <summary>Output positions per register tile on <paramref name="kernel"/>'s path: three vectors (48 floats on AVX-512, 24 on AVX2).</summary>
    public static int NR(GemmKernel kernel) => 3 * (kernel is GemmKernel.Avx512 ? Vector512<T>.Count : Vector256<T>.Count);

    /// <summary>Whether this machine runs the AVX2 micro-kernel (the stores into planes are AVX2's permutes on either path).</summary>
    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>Whether this machine runs the micro-kernel of <paramref name="kernel"/>'s path: AVX-512 or AVX2.</summary>
    public static bool Supports(GemmKernel kernel) => kernel switch
    {
        GemmKernel.Avx512 => Avx512F.IsSupported && IsSupported,
        GemmKernel.Avx2 => IsSupported,
        _ => false,
    };

    /// <summary>
    /// The register tile y[r, j] (r &lt; MR, j &lt; <see cref="NR"/>) = Σ_t w[t·MR + r]·x[q + offsets[t] + j] over <paramref name="taps"/> taps
    /// at grid position <paramref name="q"/> (a multiple of <see cref="NR"/>), written straight into the first
    /// <paramref name="rows"/> of MR NCHW output planes (<paramref name="y"/>,
    /// <paramref name="outPlane"/> apart) with <paramref name="bias"/> (MR values, or null) added, as
    /// <paramref name="stores"/> places each 256-bit vector: no product buffer is written and copied out.
    /// </summary>
    public static void TileIntoPlanes(GemmKernel kernel, int taps, int* offsets, T* w, T* x, int q, T* y, int rows, int outPlane, in GridStores stores, T* bias)
    {
        if (kernel is GemmKernel.Avx512) TileIntoPlanesAvx512(taps, offsets, w, x, q, y, rows, outPlane, stores, bias);
        else TileIntoPlanesAvx2(taps, offsets, w, x, q, y, rows, outPlane, stores, bias);
    }

    /// <summary><see cref="TileIntoPlanes"/> on AVX2 + FMA: 4 × 24 floats or 4 × 12 doubles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TileIntoPlanesAvx2(int taps, int* offsets, T* w, T* x, int q, T* y, int rows, int outPlane, in GridStores stores, T* bias)
    {
        int l = Vector256<T>.Count;
        Vector256<T> c00 = default, c01 = default, c02 = default, c10 = default, c11 = default, c12 = default;
        Vector256<T> c20 = default, c21 = default, c22 = default, c30 = default, c31 = default, c32 = default;
        T* source = x + q;
        for (int t = 0; t < taps; t++, w += MR)
        {
            T* s = source + offsets[t];
            var x0 = Vector256.Load(s);
            var x1 = Vector256.Load(s + l);
            var x2 = Vector256.Load(s + 2 * l);
            var wr = Vector256.Create(w[0]); c00 = MulAdd(wr, x0, c00); c01 = MulAdd(wr, x1, c01); c02 = MulAdd(wr, x2, c02);
            wr = Vector256.Create(w[1]); c10 = MulAdd(wr, x0, c10); c11 = MulAdd(wr, x1, c11); c12 = MulAdd(wr, x2, c12);
            wr = Vector256.Create(w[2]); c20 = MulAdd(wr, x0, c20); c21 = MulAdd(wr, x1, c21); c22 = MulAdd(wr, x2, c22);
            wr = Vector256.Create(w[3]); c30 = MulAdd(wr, x0, c30); c31 = MulAdd(wr, x1, c31); c32 = MulAdd(wr, x2, c32);
        }
        if (bias != null)
        {
            var b0 = Vector256.Create(bias[0]); var b1 = Vector256.Create(rows > 1 ? bias[1] : T.Zero);
            var b2 = Vector256.Create(rows > 2 ? bias[2] : T.Zero); var b3 = Vector256.Create(rows > 3 ? bias[3] : T.Zero);
            c00 += b0; c01 += b0; c02 += b0; c10 += b1; c11 += b1; c12 += b1;
            c20 += b2; c21 += b2; c22 += b2; c30 += b3; c31 += b3; c32 += b3;
        }
        int vector = q / l;
        StoreVector(vector, y, rows, outPlane, stores, c00, c10, c20, c30);
        StoreVector(vector + 1, y, rows, outPlane, stores, c01, c11, c21, c31);
        StoreVector(vector + 2, y, rows, outPlane, stores, c02, c12, c22, c32);
    }

    /// <summary>
    /// <see cref="TileIntoPlanes"/> on AVX-512F: 4 × 48 floats or 4 × 24 doubles. Each 512-bit vector is stored as its two
    /// 256-bit halves through the same <see cref="GridStores"/> as AVX2's, whose vectors are 256 bits: one table serves both
    /// paths, and a tile sums hundreds of taps (216 at 24 channels) for each extract it adds.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TileIntoPlanesAvx512(int taps, int* offsets, T* w, T* x, int q, T* y, int rows, int outPlane, in GridStores stores, T* bias)
    {
        int l = Vector512<T>.Count;
        Vector512<T> c00 = default, c01 = default, c02 = default, c10 = default, c11 = default, c12 = default;
        Vector512<T> c20 = default, c21 = default, c22 = default, c30 = default, c31 = default, c32 = default;
        T* source = x + q;
        for (int t = 0; t < taps; t++, w += MR)
        {
            T* s = source + offsets[t];
            var x0 = Vector512.Load(s);
            var x1 = Vector512.Load(s + l);
            var x2 = Vector512.Load(s + 2 * l);
            var wr = Vector512.Create(w[0]); c00 = Simd.Fma(wr, x0, c00); c01 = Simd.Fma(wr, x1, c01); c02 = Simd.Fma(wr, x2, c02);
            wr = Vector512.Create(w[1]); c10 = Simd.Fma(wr, x0, c10); c11 = Simd.Fma(wr, x1, c11); c12 = Simd.Fma(wr, x2, c12);
            wr = Vector512.Create(w[2]); c20 = Simd.Fma(wr, x0, c20); c21 = Simd.Fma(wr, x1, c21); c22 = Simd.Fma(wr, x2, c22);
            wr = Vector512.Create(w[3]); c30 = Simd.Fma(wr, x0, c30); c31 = Simd.Fma(wr, x1, c31); c32 = Simd.Fma(wr, x2, c32);
        }
        if (bias != null)
        {
            var b0 = Vector512.Create(bias[0]); var b1 = Vector512.Create(rows > 1 ? bias[1] : T.Zero);
            var b2 = Vector512.Create(rows > 2 ? bias[2] : T.Zero); var b3 = Vector512.Create(rows > 3 ? bias[3] : T.Zero);
            c00 += b0; c01 += b0; c02 += b0; c10 += b1; c11 += b1; c12 += b1;
            c20 += b2; c21 += b2; c22 += b2; c30 += b3; c31 += b3; c32 += b3;
        }
        int vector = q / Vector256<T>.Count;
        StoreVector(vector, y, rows, outPlane, stores, c00.GetLower(), c10.GetLower(), c20.GetLower(), c30.GetLower());
        StoreVector(vector + 1, y, rows, outPlane, stores, c00.GetUpper(), c10.GetUpper(), c20.GetUpper(), c30.GetUpper());
        StoreVector(vector + 2, y, rows, outPlane, stores, c01.GetLower(), c11.GetLower(), c21.GetLower(), c31.GetLower());
        StoreVector(vector + 3, y, rows, outPlane, stores, c01.GetUpper(), c11.GetUpper(), c21.GetUpper(), c31.GetUpper());
        StoreVector(vector + 4, y, rows, outPlane, stores, c02.GetLower(), c12.GetLower(), c22.GetLower(), c32.GetLower());
        StoreVector(vector + 5, y, rows, outPlane, stores, c02.GetUpper(), c12.GetUpper(), c22.GetUpper(), c32.GetUpper());
    }

    // One vector of grid positions, for up to four output channels, stored as its kind says.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreVector(int vector, T* y, int rows, int outPlane, in GridStores stores, Vector256<T> v0, Vector256<T> v1, Vector256<T> v2, Vector256<T> v3)
    {
        int kind = stores.Kinds[vector];
        if (kind == GridStores.Skip) return;
        T* target = y + stores.Targets[vector];
        if (kind != GridStores.Plain)
        {
            var order = Vector256.Load(stores.Permutations + vector * Vector256<int>.Count);
            v0 = Avx2.PermuteVar8x32(v0.AsSingle(), order).As<float, T>();
            v1 = Avx2.PermuteVar8x32(v1.AsSingle(), order).As<float, T>();
            v2 = Avx2.PermuteVar8x32(v2.AsSingle(), order).As<float, T>();
            v3 = Avx2.PermuteVar8x32(v3.AsSingle(), order).As<float, T>();
            if (kind == GridStores.Exact)
            {
                int valid = stores.Counts[vector];
                StoreFirst(target, v0, valid);
                if (rows > 1) StoreFirst(target + outPlane, v1, valid);
                if (rows > 2) StoreFirst(target + 2 * (nint)outPlane, v2, valid);
                if (rows > 3) StoreFirst(target + 3 * (nint)outPlane, v3, valid);
                return;
            }
        }
        v0.Store(target);
        if (rows > 1) v1.Store(target + outPlane);
        if (rows > 2) v2.Store(target + 2 * (nint)outPlane);
        if (rows > 3) v3.Store(target + 3 * (nint)outPlane);
    }

    private static void StoreFirst(T* target, Vector256<T> v, int count)
    {
        for (int lane = 0; lane < count; lane++) target[lane] = v.GetElement(lane);
    }

    /// <summary>
    /// Where each vector of the padded grid goes in NCHW output. Its valid lanes (grid columns below OW, rows below OH)
    /// hold consecutive output positions, because the grid's valid positions in order are the output positions in order:
    /// so one permutation gathers them to the front and one store at the first one's output index places them. The lanes
    /// after them land where the plane's next vector writes later; a vector that would run past the plane's end stores
    /// only its valid lanes (<see cref="Exact"/>), one without any is skipped, one whose valid lanes already start at
    /// lane 0 is stored as it is (<see cref="Plain"/>).
    /// </summary>
    public readonly struct GridStores(int* kinds, int* targets, int* counts, int* permutations)
    {
        public const int Skip = 0, Plain = 1, Permuted = 2, Exact = 3;

        public int* Kinds { get; } = kinds;                 // (vectors)
        public int* Targets { get; } = targets;             // (vectors): the output index of the first valid lane
        public int* Counts { get; } = counts;               // (vectors): valid lanes
        public int* Permutations { get; } = permutations;   // (vectors, 8): for lane k, the 32-bit lane of the vector that holds the k-th valid value

        /// <summary>Fills the arrays for the first <paramref name="vectors"/> vectors of a grid of (<paramref name="outHeight"/>, <paramref name="paddedWidth"/>) of which the first <paramref name="outWidth"/> columns are kept.</summary>
        public static void Fill(int vectors, int outHeight, int paddedWidth, int outWidth, int[] kinds, int[] targets, int[] counts, int[] permutations)
        {
            int l = Vector256<T>.Count, words = Vector256<int>.Count / l, outPlane = outHeight * outWidth;   // 32-bit lanes per element: 1 for float, 2 for double
            for (int v = 0; v < vectors; v++)
            {
                int count = 0, first = -1;
                bool moved = false;
                for (int lane = 0; lane < l; lane++)
                {
                    int q = v * l + lane, row = q / paddedWidth, column = q % paddedWidth;
                    if (column >= outWidth || row >= outHeight) continue;
                    if (first < 0) first = row * outWidth + column;
                    moved |= lane != count;
                    for (int word = 0; word < words; word++) permutations[v * 8 + count * words + word] = lane * words + word;
                    count++;
                }
                for (int k = count * words; k < 8; k++) permutations[v * 8 + k] = 7;   // lanes past the valid ones: anything
                targets[v] = Math.Max(first, 0);
                counts[v] = count;
                kinds[v] = count == 0 ? Skip : first + l > outPlane ? Exact : moved ? Permuted : Plain;
            }
        }
    }

    /// <summary>The micro-kernel's algorithmic truth for a tile of <paramref name="nr"/> positions: the same sums, one fused multiply-add at a time, in the same order.</summary>
    public static void ReferenceTile(int nr, int taps, int* offsets, T* w, T* x, T* y, nint ldy)
    {
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < nr; j++)
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
