using System.Numerics;

namespace ScratchNet.Compute;

/// <summary>The reference micro-kernel: the contract of <see cref="IMicroKernel{T}"/> in plain loops, 4×4.</summary>
internal readonly unsafe struct ScalarKernel<T> : IMicroKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int MR => 4;
    public static int NR => 4;
    public static bool IsSupported => true;

    public static void Run(int kc, T* a, T* b, T* c, nint ldc, bool accumulate, T beta)
    {
        T* ab = stackalloc T[4 * 4];
        for (int i = 0; i < 16; i++) ab[i] = T.Zero;
        for (int p = 0; p < kc; p++, a += 4, b += 4)
            for (int r = 0; r < 4; r++)
                for (int j = 0; j < 4; j++)
                    ab[r * 4 + j] = T.FusedMultiplyAdd(a[r], b[j], ab[r * 4 + j]);
        for (int r = 0; r < 4; r++)
            for (int j = 0; j < 4; j++)
            {
                T* cij = c + r * ldc + j;
                *cij = accumulate ? *cij + ab[r * 4 + j] : beta == T.Zero ? ab[r * 4 + j] : T.FusedMultiplyAdd(beta, *cij, ab[r * 4 + j]);
            }
    }
}
