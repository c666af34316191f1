using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace ScratchNet.Compute;

/// <summary>
/// General matrix multiply, C = alpha·op(A)·op(B) + beta·C, on row-major tensors, where op(X) is X or
/// Xᵀ. The layers need three cases: NT (Linear forward, X·Wᵀ), TN (weight gradient, dYᵀ·X) and NN
/// (input gradient, dY·W).
/// </summary>
/// <remarks>
/// Determinism: each element of C is computed by one thread, and its sum over k runs in the same order
/// whatever the split, so the result does not depend on <see cref="Threading.ThreadCount"/>. Multiplies
/// and adds are never fused, so vector lanes and scalar tails round identically.
/// When beta is zero, C is overwritten without being read (NaN in C does not leak through).
/// </remarks>
public static class Gemm
{
    /// <summary>C = alpha·op(A)·op(B) + beta·C, checking that the shapes agree.</summary>
    /// <exception cref="ShapeMismatchException">op(A) is (m, k), op(B) is not (k, n), or C is not (m, n).</exception>
    public static void Multiply<T>(Tensor<T> a, bool transposeA, Tensor<T> b, bool transposeB, Tensor<T> c, T alpha, T beta)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (m, k) = transposeA ? (a.Cols, a.Rows) : (a.Rows, a.Cols);
        var (kb, n) = transposeB ? (b.Cols, b.Rows) : (b.Rows, b.Cols);
        if (k != kb)
            throw new ShapeMismatchException($"GEMM inner dimensions differ: op(A) is ({m}, {k}), op(B) is ({kb}, {n}).");
        c.RequireShape(m, n, "GEMM output C");

        var A = a.Buffer; var B = b.Buffer; var C = c.Buffer;
        int lda = a.Cols, ldb = b.Cols, ldc = c.Cols;
        long work = (long)m * n * k;
        switch (transposeA, transposeB)
        {
            case (false, true):
                // NT: every C element is a dot product of two contiguous rows.
                if (m >= n) Threading.ForChunks(m, work, (i0, i1) => DotRows(A, lda, B, ldb, C, ldc, i0, i1, 0, n, k, alpha, beta));
                else Threading.ForChunks(n, work, (j0, j1) => DotRows(A, lda, B, ldb, C, ldc, 0, m, j0, j1, k, alpha, beta));
                break;
            case (_, false):
                // NN and TN: each C row is a sum of scaled rows of B; split by rows, or by columns when there are few rows.
                if (m >= Threading.ThreadCount) Threading.ForChunks(m, work, (i0, i1) => AxpyRows(A, lda, transposeA, B, ldb, C, ldc, i0, i1, 0, n, k, alpha, beta));
                else Threading.ForChunks(n, work, (j0, j1) => AxpyRows(A, lda, transposeA, B, ldb, C, ldc, 0, m, j0, j1, k, alpha, beta));
                break;
            default:
                Reference(a, transposeA, b, transposeB, c, alpha, beta);
                break;
        }
    }

    /// <summary>The algorithmic truth: three plain loops, one multiply-add at a time. Slow; for tests and the rare TT case.</summary>
    public static void Reference<T>(Tensor<T> a, bool transposeA, Tensor<T> b, bool transposeB, Tensor<T> c, T alpha, T beta)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (m, k) = transposeA ? (a.Cols, a.Rows) : (a.Rows, a.Cols);
        int n = transposeB ? b.Rows : b.Cols;
        if ((transposeB ? b.Cols : b.Rows) != k)
            throw new ShapeMismatchException($"GEMM inner dimensions differ: op(A) is ({m}, {k}), op(B) is ({(transposeB ? b.Cols : b.Rows)}, {n}).");
        c.RequireShape(m, n, "GEMM output C");
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                T sum = T.Zero;
                for (int p = 0; p < k; p++)
                    sum += (transposeA ? a[p, i] : a[i, p]) * (transposeB ? b[j, p] : b[p, j]);
                c[i, j] = beta == T.Zero ? alpha * sum : alpha * sum + beta * c[i, j];
            }
    }

    // C[i, j] = alpha·dot(A row i, B row j) + beta·C[i, j] for i in [i0, i1), j in [j0, j1).
    private static void DotRows<T>(T[] A, int lda, T[] B, int ldb, T[] C, int ldc, int i0, int i1, int j0, int j1, int k, T alpha, T beta)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = i0; i < i1; i++)
        {
            var aRow = new ReadOnlySpan<T>(A, i * lda, k);
            var cRow = new Span<T>(C, i * ldc, j1);
            for (int j = j0; j < j1; j++)
            {
                T dot = TensorPrimitives.Dot(aRow, new ReadOnlySpan<T>(B, j * ldb, k));
                cRow[j] = beta == T.Zero ? alpha * dot : alpha * dot + beta * cRow[j];
            }
        }
    }

    // C[i, j0..j1) = beta·C[i, j0..j1) + Σ_p alpha·op(A)[i, p]·B[p, j0..j1) for i in [i0, i1).
    private static void AxpyRows<T>(T[] A, int lda, bool transposeA, T[] B, int ldb, T[] C, int ldc, int i0, int i1, int j0, int j1, int k, T alpha, T beta)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int width = j1 - j0;
        for (int i = i0; i < i1; i++)
        {
            var cRow = new Span<T>(C, i * ldc + j0, width);
            if (beta == T.Zero) cRow.Clear();
            else if (beta != T.One) TensorPrimitives.Multiply(cRow, beta, cRow);
            for (int p = 0; p < k; p++)
            {
                T scale = alpha * (transposeA ? A[p * lda + i] : A[i * lda + p]);
                Axpy(scale, new ReadOnlySpan<T>(B, p * ldb + j0, width), cRow);
            }
        }
    }

    /// <summary>y += a·x, unfused, vectorised with <see cref="Vector{T}"/>; the scalar tail rounds like the lanes.</summary>
    internal static void Axpy<T>(T a, ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported && x.Length >= Vector<T>.Count)
        {
            var va = new Vector<T>(a);
            ref T xRef = ref MemoryMarshal.GetReference(x);
            ref T yRef = ref MemoryMarshal.GetReference(y);
            for (; i <= x.Length - Vector<T>.Count; i += Vector<T>.Count)
            {
                var vy = Vector.LoadUnsafe(ref yRef, (nuint)i) + va * Vector.LoadUnsafe(ref xRef, (nuint)i);
                vy.StoreUnsafe(ref yRef, (nuint)i);
            }
        }
        for (; i < x.Length; i++) y[i] += a * x[i];
    }
}
