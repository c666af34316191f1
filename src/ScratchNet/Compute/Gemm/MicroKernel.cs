using System.Numerics;

namespace ScratchNet.Compute;

/// <summary>
/// The GEMM micro-kernel contract (BLIS's): multiply an MR×kc panel of A by a kc×NR panel of B,
/// both packed, and merge the MR×NR product into C.
/// </summary>
/// <remarks>
/// Packed layouts: <c>a[p·MR + r]</c> = A(r, p) and <c>b[p·NR + j]</c> = B(p, j); packing zero-pads
/// short edges, so the kernel always computes a full tile. Merge: when <c>accumulate</c>, C += AB;
/// otherwise C = AB when beta is 0 (C is not read), else C = beta·C + AB. C rows are <c>ldc</c> apart.
/// </remarks>
internal unsafe interface IMicroKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Rows of the register tile.</summary>
    static abstract int MR { get; }

    /// <summary>Columns of the register tile.</summary>
    static abstract int NR { get; }

    /// <summary>Whether this machine can run the kernel.</summary>
    static abstract bool IsSupported { get; }

    /// <summary>Computes one MR×NR tile; see the type's remarks.</summary>
    static abstract void Run(int kc, T* a, T* b, T* c, nint ldc, bool accumulate, T beta);
}

/// <summary>The instruction sets a GEMM micro-kernel exists for, best first.</summary>
public enum GemmKernel
{
    /// <summary>512-bit vectors with FMA (x64 AVX-512F).</summary>
    Avx512,

    /// <summary>256-bit vectors with FMA (x64 AVX2 + FMA3).</summary>
    Avx2,

    /// <summary>128-bit vectors through <c>Vector128</c> (SSE on x64, AdvSimd on ARM64).</summary>
    Vector128,

    /// <summary>Plain scalar code: the reference micro-kernel, runs anywhere.</summary>
    Scalar,
}
