using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ScratchNet.Compute;

/// <summary>
/// The blocked GEMM around one micro-kernel, single-threaded, BLIS's loop nest: for each NC-wide
/// column block of C and each KC-deep slice of k, pack op(B) into NR-wide panels; for each MC-high row
/// block, pack alpha·op(A) into MR-high panels; then run the micro-kernel over every MR×NR tile.
/// </summary>
/// <remarks>
/// Block sizes for this class of machine (32–48 KB L1d, 1 MB L2, large shared L3): a KC×NR slice of
/// packed B (≤ 24 KB) stays in L1 while the micro-kernel sweeps the MC×KC block of packed A from L2;
/// the KC×NC panel of packed B (≤ 4.7 MB) sits in L3.
/// Each element of C sums over k in KC slices, in order, whatever part of C a thread computes, so
/// splitting C between threads never changes the result.
/// </remarks>
internal static unsafe class GemmDriver<T, TKernel>
    where T : unmanaged, IFloatingPointIeee754<T>
    where TKernel : IMicroKernel<T>
{
    private const int KC = 192;
    private const int MC = 384;
    private const int NC = 3072;

    [ThreadStatic] private static T[]? _packedA;
    [ThreadStatic] private static T[]? _packedB;

    /// <summary>C (m×n, row stride ldc) = alpha·op(A)·op(B) + beta·C, with op(A) m×k and op(B) k×n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int m, int n, int k, T alpha, T* a, nint lda, bool transposeA, T* b, nint ldb, bool transposeB, T beta, T* c, nint ldc)
    {
        if (m == 0 || n == 0) return;
        if (k == 0 || alpha == T.Zero)
        {
            ScaleC(m, n, beta, c, ldc);
            return;
        }
        // Pinned once per thread, so packing never allocates after the first call; from a cache-line boundary, so that the
        // micro-kernel's vector loads of the packed panels each touch one line.
        _packedA ??= CacheLines.Allocate<T>(MC * KC);
        _packedB ??= CacheLines.Allocate<T>(KC * RoundUp(NC, TKernel.NR));
        T* packedA = CacheLines.Start(_packedA), packedB = CacheLines.Start(_packedB);
        for (int jc = 0; jc < n; jc += NC)
        {
            int nc = Math.Min(NC, n - jc);
            for (int pc = 0; pc < k; pc += KC)
            {
                int kc = Math.Min(KC, k - pc);
                PackB(b, ldb, transposeB, pc, jc, kc, nc, packedB);
                for (int ic = 0; ic < m; ic += MC)
                {
                    int mc = Math.Min(MC, m - ic);
                    PackA(a, lda, transposeA, ic, pc, mc, kc, alpha, packedA);
                    MacroKernel(mc, nc, kc, packedA, packedB, c + ic * ldc + jc, ldc, accumulate: pc > 0, beta);
                }
            }
        }
    }

    // Every MR×NR tile of an mc×nc block of C. Edge tiles go through a scratch tile, so the
    // micro-kernel never needs a tail.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MacroKernel(int mc, int nc, int kc, T* packedA, T* packedB, T* c, nint ldc, bool accumulate, T beta)
    {
        int mr = TKernel.MR, nr = TKernel.NR;
        T* scratch = stackalloc T[mr * nr];
        for (int jr = 0; jr < nc; jr += nr)
        {
            int columns = Math.Min(nr, nc - jr);
            for (int ir = 0; ir < mc; ir += mr)
            {
                int rows = Math.Min(mr, mc - ir);
                T* tile = c + ir * ldc + jr;
                if (rows == mr && columns == nr)
                {
                    TKernel.Run(kc, packedA + ir * kc, packedB + jr * kc, tile, ldc, accumulate, beta);
                    continue;
                }
                TKernel.Run(kc, packedA + ir * kc, packedB + jr * kc, scratch, nr, accumulate: false, T.Zero);
                for (int r = 0; r < rows; r++)
                    for (int j = 0; j < columns; j++)
                    {
                        T* cij = tile + r * ldc + j;
                        T product = scratch[r * nr + j];
                        *cij = accumulate ? *cij + product : beta == T.Zero ? product : T.FusedMultiplyAdd(beta, *cij, product);
                    }
            }
        }
    }

    // packedA[panel][p][r] = alpha·op(A)(ic + panel·MR + r, pc + p); rows past mc are zero.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackA(T* a, nint lda, bool transposeA, int ic, int pc, int mc, int kc, T alpha, T* packedA)
    {
        int mr = TKernel.MR;
        for (int ir = 0; ir < mc; ir += mr)
        {
            T* panel = packedA + ir * kc;
            int rows = Math.Min(mr, mc - ir);
            if (transposeA)
                CopyRows(a + pc * lda + ic + ir, lda, kc, rows, mr, panel);   // op(A) columns are rows of A
            else
                Transpose.Pack(a + (ic + ir) * lda + pc, lda, rows, kc, mr, panel);
            if (alpha != T.One) System.Numerics.Tensors.TensorPrimitives.Multiply(new Span<T>(panel, mr * kc), alpha, new Span<T>(panel, mr * kc));
        }
    }

    // packedB[panel][p][j] = op(B)(pc + p, jc + panel·NR + j); columns past nc are zero.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackB(T* b, nint ldb, bool transposeB, int pc, int jc, int kc, int nc, T* packedB)
    {
        int nr = TKernel.NR;
        for (int jr = 0; jr < nc; jr += nr)
        {
            T* panel = packedB + jr * kc;
            int columns = Math.Min(nr, nc - jr);
            if (transposeB)
                Transpose.Pack(b + (jc + jr) * ldb + pc, ldb, columns, kc, nr, panel);   // op(B) columns are rows of B
            else
                CopyRows(b + pc * ldb + jc + jr, ldb, kc, columns, nr, panel);
        }
    }

    // destination[p·width + j] = source[p·ld + j] for j < count, zero up to width: a panel whose rows
    // are already contiguous in the source. A library copy per row costs a call each; a panel row is a
    // few vectors, so copy them inline.
    private static void CopyRows(T* source, nint ld, int depth, int count, int width, T* destination)
    {
        for (int p = 0; p < depth; p++, source += ld, destination += width)
        {
            int j = 0;
            if (Vector256.IsHardwareAccelerated)
                for (; j <= count - Vector256<T>.Count; j += Vector256<T>.Count)
                    Vector256.Store(Vector256.Load(source + j), destination + j);
            for (; j < count; j++) destination[j] = source[j];
            for (; j < width; j++) destination[j] = T.Zero;
        }
    }

    private static void ScaleC(int m, int n, T beta, T* c, nint ldc)
    {
        for (int i = 0; i < m; i++)
        {
            var row = new Span<T>(c + i * ldc, n);
            if (beta == T.Zero) row.Clear();
            else if (beta != T.One) System.Numerics.Tensors.TensorPrimitives.Multiply(row, beta, row);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;
}
