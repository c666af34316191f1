using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ScratchNet.Compute;

/// <summary>
/// Packing's transposing copy: <c>destination[p·width + r] = source[r·ld + p]</c> for r &lt; rows and
/// p &lt; depth, zero for rows ≤ r &lt; width. It packs A panels (rows of A become columns of the panel)
/// and transposed B panels (rows of W in the Linear forward pass). Element by element it costs two
/// memory operations per value, as much as the micro-kernel spends on a tile, so whole 8×8 (float)
/// or 4×4 (double) blocks go through AVX registers.
/// </summary>
internal static unsafe class Transpose
{
    /// <summary>See the type's summary.</summary>
    public static void Pack<T>(T* source, nint ld, int rows, int depth, int width, T* destination) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int r = 0;
        if (Avx.IsSupported && typeof(T) == typeof(float))
            for (; r + 8 <= rows; r += 8) Rows8((float*)source + r * ld, ld, depth, width, (float*)destination + r);
        else if (Avx.IsSupported && typeof(T) == typeof(double))
            for (; r + 4 <= rows; r += 4) Rows4((double*)source + r * ld, ld, depth, width, (double*)destination + r);
        for (; r < rows; r++)
        {
            T* row = source + r * ld;
            for (int p = 0; p < depth; p++) destination[p * width + r] = row[p];
        }
        for (; r < width; r++)
            for (int p = 0; p < depth; p++) destination[p * width + r] = T.Zero;
    }

    /// <summary>The plain loop <see cref="Pack{T}"/> must match; the reference for tests.</summary>
    public static void PackReference<T>(T* source, nint ld, int rows, int depth, int width, T* destination) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < width; r++)
            for (int p = 0; p < depth; p++) destination[p * width + r] = r < rows ? source[r * ld + p] : T.Zero;
    }

    /// <summary>
    /// An 8×8 block of floats transposed in AVX registers, r_j[i] ← r_i[j]: the classic unpack (pairs of rows
    /// interleaved), shuffle (quadruples within each 128-bit half), lane permute (the halves exchanged).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Square(ref Vector256<float> r0, ref Vector256<float> r1, ref Vector256<float> r2, ref Vector256<float> r3,
        ref Vector256<float> r4, ref Vector256<float> r5, ref Vector256<float> r6, ref Vector256<float> r7)
    {
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        r0 = Avx.Permute2x128(u0, u4, 0x20); r1 = Avx.Permute2x128(u1, u5, 0x20);
        r2 = Avx.Permute2x128(u2, u6, 0x20); r3 = Avx.Permute2x128(u3, u7, 0x20);
        r4 = Avx.Permute2x128(u0, u4, 0x31); r5 = Avx.Permute2x128(u1, u5, 0x31);
        r6 = Avx.Permute2x128(u2, u6, 0x31); r7 = Avx.Permute2x128(u3, u7, 0x31);
    }

    /// <summary>A 4×4 block of doubles transposed in AVX registers, r_j[i] ← r_i[j]: unpack, then lane permute.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Square(ref Vector256<double> r0, ref Vector256<double> r1, ref Vector256<double> r2, ref Vector256<double> r3)
    {
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        r0 = Avx.Permute2x128(t0, t2, 0x20); r1 = Avx.Permute2x128(t1, t3, 0x20);
        r2 = Avx.Permute2x128(t0, t2, 0x31); r3 = Avx.Permute2x128(t1, t3, 0x31);
    }

    // Eight rows: 8×8 blocks through Square, then a scalar tail in p.
    private static void Rows8(float* source, nint ld, int depth, int width, float* destination)
    {
        int p = 0;
        for (; p + 8 <= depth; p += 8)
        {
            float* s = source + p;
            var r0 = Avx.LoadVector256(s); var r1 = Avx.LoadVector256(s + ld);
            var r2 = Avx.LoadVector256(s + 2 * ld); var r3 = Avx.LoadVector256(s + 3 * ld);
            var r4 = Avx.LoadVector256(s + 4 * ld); var r5 = Avx.LoadVector256(s + 5 * ld);
            var r6 = Avx.LoadVector256(s + 6 * ld); var r7 = Avx.LoadVector256(s + 7 * ld);
            Square(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
            float* d = destination + p * width;
            Avx.Store(d, r0); Avx.Store(d + width, r1);
            Avx.Store(d + 2 * width, r2); Avx.Store(d + 3 * width, r3);
            Avx.Store(d + 4 * width, r4); Avx.Store(d + 5 * width, r5);
            Avx.Store(d + 6 * width, r6); Avx.Store(d + 7 * width, r7);
        }
        for (; p < depth; p++)
            for (int r = 0; r < 8; r++) destination[p * width + r] = source[r * ld + p];
    }

    // Four rows of doubles: 4×4 blocks, then a scalar tail in p.
    private static void Rows4(double* source, nint ld, int depth, int width, double* destination)
    {
        int p = 0;
        for (; p + 4 <= depth; p += 4)
        {
            double* s = source + p;
            var r0 = Avx.LoadVector256(s); var r1 = Avx.LoadVector256(s + ld);
            var r2 = Avx.LoadVector256(s + 2 * ld); var r3 = Avx.LoadVector256(s + 3 * ld);
            Square(ref r0, ref r1, ref r2, ref r3);
            double* d = destination + p * width;
            Avx.Store(d, r0); Avx.Store(d + width, r1);
            Avx.Store(d + 2 * width, r2); Avx.Store(d + 3 * width, r3);
        }
        for (; p < depth; p++)
            for (int r = 0; r < 4; r++) destination[p * width + r] = source[r * ld + p];
    }
}
