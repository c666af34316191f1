using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ScratchNet.Compute;

/// <summary>
/// AVX-512 micro-kernel, 8 rows × 2 vectors (8×32 for float, 8×16 for double): 16 accumulators in
/// zmm registers, per k step two loads of B and eight broadcasts of A feeding sixteen FMAs.
/// </summary>
internal readonly unsafe struct Avx512Kernel<T> : IMicroKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private static int L => Vector512<T>.Count;
    public static int MR => 8;
    public static int NR => 2 * Vector512<T>.Count;
    public static bool IsSupported => Avx512F.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, T* a, T* b, T* c, nint ldc, bool accumulate, T beta)
    {
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        Vector512<T> c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        int l = L;
        // Main loop over k: one rank-1 update of the 8×2L tile per step.
        for (int p = 0; p < kc; p++, a += 8, b += 2 * l)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + l);
            var ai = Vector512.Create(a[0]); c00 = Fma(ai, b0, c00); c01 = Fma(ai, b1, c01);
            ai = Vector512.Create(a[1]); c10 = Fma(ai, b0, c10); c11 = Fma(ai, b1, c11);
            ai = Vector512.Create(a[2]); c20 = Fma(ai, b0, c20); c21 = Fma(ai, b1, c21);
            ai = Vector512.Create(a[3]); c30 = Fma(ai, b0, c30); c31 = Fma(ai, b1, c31);
            ai = Vector512.Create(a[4]); c40 = Fma(ai, b0, c40); c41 = Fma(ai, b1, c41);
            ai = Vector512.Create(a[5]); c50 = Fma(ai, b0, c50); c51 = Fma(ai, b1, c51);
            ai = Vector512.Create(a[6]); c60 = Fma(ai, b0, c60); c61 = Fma(ai, b1, c61);
            ai = Vector512.Create(a[7]); c70 = Fma(ai, b0, c70); c71 = Fma(ai, b1, c71);
        }
        // Merge the tile into C.
        var vbeta = Vector512.Create(beta);
        Merge(c, c00, c01, accumulate, beta, vbeta); c += ldc;
        Merge(c, c10, c11, accumulate, beta, vbeta); c += ldc;
        Merge(c, c20, c21, accumulate, beta, vbeta); c += ldc;
        Merge(c, c30, c31, accumulate, beta, vbeta); c += ldc;
        Merge(c, c40, c41, accumulate, beta, vbeta); c += ldc;
        Merge(c, c50, c51, accumulate, beta, vbeta); c += ldc;
        Merge(c, c60, c61, accumulate, beta, vbeta); c += ldc;
        Merge(c, c70, c71, accumulate, beta, vbeta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Merge(T* row, Vector512<T> v0, Vector512<T> v1, bool accumulate, T beta, Vector512<T> vbeta)
    {
        int l = L;
        if (accumulate)
        {
            v0 += Vector512.Load(row);
            v1 += Vector512.Load(row + l);
        }
        else if (beta != T.Zero)
        {
            v0 = Fma(vbeta, Vector512.Load(row), v0);
            v1 = Fma(vbeta, Vector512.Load(row + l), v1);
        }
        v0.Store(row);
        v1.Store(row + l);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Fma(Vector512<T> x, Vector512<T> y, Vector512<T> addend)
    {
        if (typeof(T) == typeof(float)) return Avx512F.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), addend.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Avx512F.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), addend.AsDouble()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }
}
