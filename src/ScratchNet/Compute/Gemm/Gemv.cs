using System.Numerics;

namespace ScratchNet.Compute;

/// <summary>
/// C = alpha·A·Bᵀ + beta·C for a few rows of A (the Linear forward pass at batch 1 to 4): one dot
/// product per element, straight from W's rows. Packing W, as the blocked GEMM would, costs as much
/// as the product itself when A has one row, and this pass touches each weight once.
/// Threads take strips of C's columns (rows of B); each dot runs on one thread, so the split does not
/// change the result.
/// </summary>
internal sealed unsafe class Gemv<T> : IParallelWork where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Up to this many rows of A, <see cref="Gemm"/> takes this path for NT products.</summary>
    public const int MaxRows = 4;

    [ThreadStatic] private static Gemv<T>? _forThisThread;

    private int _m, _n, _k;
    private T _alpha, _beta;
    private T* _a, _b, _c;
    private nint _lda, _ldb, _ldc;

    /// <summary>Computes the product, on the worker team when it is large enough.</summary>
    public static void Run(int m, int n, int k, T alpha, T* a, nint lda, T* b, nint ldb, T beta, T* c, nint ldc)
    {
        var job = _forThisThread ??= new Gemv<T>();
        (job._m, job._n, job._k, job._alpha, job._beta) = (m, n, k, alpha, beta);
        job._a = a; job._lda = lda; job._b = b; job._ldb = ldb; job._c = c; job._ldc = ldc;
        long work = (long)m * n * k;
        int parts = (int)Math.Clamp(work / (1 << 16), 1, Math.Min(Threading.ThreadCount, n));
        WorkerTeam.Run(parts, job);
    }

    public void Execute(int part, int parts)
    {
        int start = (int)((long)_n * part / parts), end = (int)((long)_n * (part + 1) / parts);
        for (int j = start; j < end; j++)
        {
            T* w = _b + j * _ldb;
            for (int i = 0; i < _m; i++)
            {
                T dot = _alpha * Simd.Dot(_a + i * _lda, w, _k);
                T* cij = _c + i * _ldc + j;
                *cij = _beta == T.Zero ? dot : T.FusedMultiplyAdd(_beta, *cij, dot);
            }
        }
    }
}
