using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ScratchNet.Compute;

/// <summary>
/// AVX2 + FMA micro-kernel, 6 rows × 2 vectors (6×16 for float, 6×8 for double): 12 accumulators,
/// two B vectors and one broadcast fill 15 of the 16 ymm registers.
/// </summary>
internal readonly unsafe struct Avx2Kernel<T> : IMicroKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private static int L => Vector256<T>.Count;
    public static int MR => 6;
    public static int NR => 2 * Vector256<T>.Count;
    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, T* a, T* b, T* c, nint ldc, bool accumulate, T beta)
    {
        Vector256<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        int l = L;
        // Main loop over k: one rank-1 update of the 6×2L tile per step.
        for (int p = 0; p < kc; p++, a += 6, b += 2 * l)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + l);
            var ai = Vector256.Create(a[0]); c00 = MulAdd(ai, b0, c00); c01 = MulAdd(ai, b1, c01);
            ai = Vector256.Create(a[1]); c10 = MulAdd(ai, b0, c10); c11 = MulAdd(ai, b1, c11);
            ai = Vector256.Create(a[2]); c20 = MulAdd(ai, b0, c20); c21 = MulAdd(ai, b1, c21);
            ai = Vector256.Create(a[3]); c30 = MulAdd(ai, b0, c30); c31 = MulAdd(ai, b1, c31);
            ai = Vector256.Create(a[4]); c40 = MulAdd(ai, b0, c40); c41 = MulAdd(ai, b1, c41);
            ai = Vector256.Create(a[5]); c50 = MulAdd(ai, b0, c50); c51 = MulAdd(ai, b1, c51);
        }
        // Merge the tile into C.
        var vbeta = Vector256.Create(beta);
        Merge(c, c00, c01, accumulate, beta, vbeta); c += ldc;
        Merge(c, c10, c11, accumulate, beta, vbeta); c += ldc;
        Merge(c, c20, c21, accumulate, beta, vbeta); c += ldc;
        Merge(c, c30, c31, accumulate, beta, vbeta); c += ldc;
        Merge(c, c40, c41, accumulate, beta, vbeta); c += ldc;
        Merge(c, c50, c51, accumulate, beta, vbeta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Merge(T* row, Vector256<T> v0, Vector256<T> v1, bool accumulate, T beta, Vector256<T> vbeta)
    {
        int l = L;
        if (accumulate)
        {
            v0 += Vector256.Load(row);
            v1 += Vector256.Load(row + l);
        }
        else if (beta != T.Zero)
        {
            v0 = MulAdd(vbeta, Vector256.Load(row), v0);
            v1 = MulAdd(vbeta, Vector256.Load(row + l), v1);
        }
        v0.Store(row);
        v1.Store(row + l);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> MulAdd(Vector256<T> x, Vector256<T> y, Vector256<T> addend)
    {
        if (typeof(T) == typeof(float)) return Fma.MultiplyAdd(x.AsSingle(), y.AsSingle(), addend.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Fma.MultiplyAdd(x.AsDouble(), y.AsDouble(), addend.AsDouble()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }
}
