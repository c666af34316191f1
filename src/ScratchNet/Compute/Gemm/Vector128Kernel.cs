using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ScratchNet.Compute;

/// <summary>
/// Portable 128-bit micro-kernel, 4 rows × 2 vectors (4×8 for float, 4×4 for double), through
/// <see cref="Vector128"/>: SSE on x64, AdvSimd on ARM64, where it is the fast path.
/// </summary>
internal readonly unsafe struct Vector128Kernel<T> : IMicroKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private static int L => Vector128<T>.Count;
    public static int MR => 4;
    public static int NR => 2 * Vector128<T>.Count;
    public static bool IsSupported => Vector128.IsHardwareAccelerated;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, T* a, T* b, T* c, nint ldc, bool accumulate, T beta)
    {
        Vector128<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        int l = L;
        // Main loop over k: one rank-1 update of the 4×2L tile per step.
        for (int p = 0; p < kc; p++, a += 4, b += 2 * l)
        {
            var b0 = Vector128.Load(b);
            var b1 = Vector128.Load(b + l);
            var ai = Vector128.Create(a[0]); c00 = MulAdd(ai, b0, c00); c01 = MulAdd(ai, b1, c01);
            ai = Vector128.Create(a[1]); c10 = MulAdd(ai, b0, c10); c11 = MulAdd(ai, b1, c11);
            ai = Vector128.Create(a[2]); c20 = MulAdd(ai, b0, c20); c21 = MulAdd(ai, b1, c21);
            ai = Vector128.Create(a[3]); c30 = MulAdd(ai, b0, c30); c31 = MulAdd(ai, b1, c31);
        }
        // Merge the tile into C.
        var vbeta = Vector128.Create(beta);
        Merge(c, c00, c01, accumulate, beta, vbeta); c += ldc;
        Merge(c, c10, c11, accumulate, beta, vbeta); c += ldc;
        Merge(c, c20, c21, accumulate, beta, vbeta); c += ldc;
        Merge(c, c30, c31, accumulate, beta, vbeta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Merge(T* row, Vector128<T> v0, Vector128<T> v1, bool accumulate, T beta, Vector128<T> vbeta)
    {
        int l = L;
        if (accumulate)
        {
            v0 += Vector128.Load(row);
            v1 += Vector128.Load(row + l);
        }
        else if (beta != T.Zero)
        {
            v0 = MulAdd(vbeta, Vector128.Load(row), v0);
            v1 = MulAdd(vbeta, Vector128.Load(row + l), v1);
        }
        v0.Store(row);
        v1.Store(row + l);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<T> MulAdd(Vector128<T> x, Vector128<T> y, Vector128<T> addend)
    {
        if (typeof(T) == typeof(float)) return Vector128.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), addend.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector128.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), addend.AsDouble()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }
}
