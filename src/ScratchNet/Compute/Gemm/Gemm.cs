using System.Numerics;

namespace ScratchNet.Compute;

/// <summary>
/// General matrix multiply, C = alpha·op(A)·op(B) + beta·C, on row-major tensors, where op(X) is X or
/// Xᵀ. The layers need three cases: NT (Linear forward, X·Wᵀ), TN (weight gradient, dYᵀ·X) and NN
/// (input gradient, dY·W).
/// </summary>
/// <remarks>
/// Packed and cache-blocked around a register-tile micro-kernel for the best instruction set the
/// machine has (<see cref="Kernel"/>); see <c>GemmDriver</c>. Threads split C into column (or row)
/// strips; each element's sum over k runs in the same order whichever strip it falls in, so the result
/// does not depend on <see cref="Threading.ThreadCount"/>. When beta is zero, C is overwritten without
/// being read (NaN in C does not leak through).
/// </remarks>
public static unsafe class Gemm
{
    /// <summary>The micro-kernel in use; defaults to the best this machine supports. Settable to test the others.</summary>
    /// <exception cref="PlatformNotSupportedException">Set to a kernel this machine cannot run.</exception>
    public static GemmKernel Kernel
    {
        get => _kernel;
        set => _kernel = IsSupported(value) ? value : throw new PlatformNotSupportedException($"The {value} GEMM kernel needs instructions this machine lacks.");
    }

    private static GemmKernel _kernel = Enum.GetValues<GemmKernel>().First(IsSupported);

    /// <summary>Whether this machine can run <paramref name="kernel"/>.</summary>
    public static bool IsSupported(GemmKernel kernel) => kernel switch
    {
        GemmKernel.Avx512 => Avx512Kernel<float>.IsSupported,
        GemmKernel.Avx2 => Avx2Kernel<float>.IsSupported,
        GemmKernel.Vector128 => Vector128Kernel<float>.IsSupported,
        _ => true,
    };

    /// <summary>C = alpha·op(A)·op(B) + beta·C, checking that the shapes agree.</summary>
    /// <exception cref="ShapeMismatchException">op(A) is (m, k), op(B) is not (k, n), or C is not (m, n).</exception>
    public static void Multiply<T>(Matrix<T> a, bool transposeA, Matrix<T> b, bool transposeB, Matrix<T> c, T alpha, T beta)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (m, k) = CheckShapes(a, transposeA, b, transposeB, c);
        int n = c.Cols;
        fixed (T* pa = a.Span, pb = b.Span, pc = c.Span)
        {
            if (m <= Gemv<T>.MaxRows && !transposeA && transposeB)
            {
                Gemv<T>.Run(m, n, k, alpha, pa, a.Cols, pb, b.Cols, beta, pc, c.Cols);
                return;
            }
            var job = Job<T>.ForThisThread;
            job.Set(m, n, k, alpha, pa, a.Cols, transposeA, pb, b.Cols, transposeB, beta, pc, c.Cols, _kernel);
            WorkerTeam.Run(job.Parts(), job);
        }
    }

    /// <summary>The algorithmic truth: three plain loops, one multiply-add at a time. Slow; for tests.</summary>
    public static void Reference<T>(Matrix<T> a, bool transposeA, Matrix<T> b, bool transposeB, Matrix<T> c, T alpha, T beta)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (m, k) = CheckShapes(a, transposeA, b, transposeB, c);
        int n = c.Cols;
        Span<T> A = a.Span, B = b.Span, C = c.Span;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                T sum = T.Zero;
                for (int p = 0; p < k; p++)
                    sum += A[transposeA ? p * m + i : i * k + p] * B[transposeB ? j * k + p : p * n + j];
                C[i * n + j] = beta == T.Zero ? alpha * sum : alpha * sum + beta * C[i * n + j];
            }
    }

    private static (int M, int K) CheckShapes<T>(Matrix<T> a, bool transposeA, Matrix<T> b, bool transposeB, Matrix<T> c)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (m, k) = transposeA ? (a.Cols, a.Rows) : (a.Rows, a.Cols);
        var (kb, n) = transposeB ? (b.Cols, b.Rows) : (b.Rows, b.Cols);
        if (k != kb)
            throw new ShapeMismatchException($"GEMM inner dimensions differ: op(A) is ({m}, {k}), op(B) is ({kb}, {n}).");
        c.RequireShape(m, n, "GEMM output C");
        return (m, k);
    }

    // One GEMM call split into strips of C for the worker team; reused per calling thread so that a
    // call allocates nothing.
    private sealed class Job<T> : IParallelWork where T : unmanaged, IFloatingPointIeee754<T>
    {
        private const long MinMultiplyAddsPerPart = 1 << 18;

        [ThreadStatic] private static Job<T>? _forThisThread;
        public static Job<T> ForThisThread => _forThisThread ??= new Job<T>();

        private int _m, _n, _k;
        private T _alpha, _beta;
        private T* _a, _b, _c;
        private nint _lda, _ldb, _ldc;
        private bool _transposeA, _transposeB;
        private GemmKernel _kernel;

        public void Set(int m, int n, int k, T alpha, T* a, nint lda, bool transposeA, T* b, nint ldb, bool transposeB, T beta, T* c, nint ldc, GemmKernel kernel)
        {
            (_m, _n, _k, _alpha, _beta, _kernel) = (m, n, k, alpha, beta, kernel);
            _a = a; _lda = lda; _transposeA = transposeA;
            _b = b; _ldb = ldb; _transposeB = transposeB;
            _c = c; _ldc = ldc;
        }

        public int Parts()
        {
            long work = (long)_m * _n * Math.Max(_k, 1);
            var (length, tile) = SplitColumns ? (_n, Tile().NR) : (_m, Tile().MR);
            long byWork = Math.Max(1, work / MinMultiplyAddsPerPart);
            int byTiles = (length + tile - 1) / tile;
            return (int)Math.Min(Math.Min(Threading.ThreadCount, byWork), byTiles);
        }

        public void Execute(int part, int parts)
        {
            if (SplitColumns)
            {
                var (start, end) = Strip(_n, Tile().NR, part, parts);
                T* b = _transposeB ? _b + start * _ldb : _b + start;
                Run(_m, end - start, _a, b, _c + start);
            }
            else
            {
                var (start, end) = Strip(_m, Tile().MR, part, parts);
                T* a = _transposeA ? _a + start : _a + start * _lda;
                Run(end - start, _n, a, _b, _c + start * _ldc);
            }
        }

        // Wide outputs split by columns (each thread packs its own columns of B and shares A's work);
        // tall ones by rows.
        private bool SplitColumns => _n >= _m;

        private (int MR, int NR) Tile() => _kernel switch
        {
            GemmKernel.Avx512 => (Avx512Kernel<T>.MR, Avx512Kernel<T>.NR),
            GemmKernel.Avx2 => (Avx2Kernel<T>.MR, Avx2Kernel<T>.NR),
            GemmKernel.Vector128 => (Vector128Kernel<T>.MR, Vector128Kernel<T>.NR),
            _ => (ScalarKernel<T>.MR, ScalarKernel<T>.NR),
        };

        // Part `part` of `parts` near-equal strips of [0, length), cut at multiples of `tile`.
        private static (int Start, int End) Strip(int length, int tile, int part, int parts)
        {
            int tiles = (length + tile - 1) / tile;
            int start = (int)((long)tiles * part / parts) * tile;
            int end = (int)Math.Min((long)tiles * (part + 1) / parts * tile, length);
            return (start, end);
        }

        private void Run(int m, int n, T* a, T* b, T* c) =>
            OnThisThread(_kernel, m, n, _k, _alpha, a, _lda, _transposeA, b, _ldb, _transposeB, _beta, c, _ldc);
    }

    /// <summary>
    /// C (m×n, row stride ldc) = alpha·op(A)·op(B) + beta·C on raw storage, on the calling thread only: for kernels
    /// that split a larger job between threads themselves (a convolution runs one GEMM per sample, samples
    /// in parallel). The same arithmetic per element as <see cref="Multiply{T}"/>.
    /// </summary>
    internal static void MultiplyOnThisThread<T>(int m, int n, int k, T alpha, T* a, nint lda, bool transposeA, T* b, nint ldb, bool transposeB, T beta, T* c, nint ldc)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        OnThisThread(_kernel, m, n, k, alpha, a, lda, transposeA, b, ldb, transposeB, beta, c, ldc);

    private static void OnThisThread<T>(GemmKernel kernel, int m, int n, int k, T alpha, T* a, nint lda, bool transposeA, T* b, nint ldb, bool transposeB, T beta, T* c, nint ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (kernel)
        {
            case GemmKernel.Avx512: GemmDriver<T, Avx512Kernel<T>>.Run(m, n, k, alpha, a, lda, transposeA, b, ldb, transposeB, beta, c, ldc); break;
            case GemmKernel.Avx2: GemmDriver<T, Avx2Kernel<T>>.Run(m, n, k, alpha, a, lda, transposeA, b, ldb, transposeB, beta, c, ldc); break;
            case GemmKernel.Vector128: GemmDriver<T, Vector128Kernel<T>>.Run(m, n, k, alpha, a, lda, transposeA, b, ldb, transposeB, beta, c, ldc); break;
            default: GemmDriver<T, ScalarKernel<T>>.Run(m, n, k, alpha, a, lda, transposeA, b, ldb, transposeB, beta, c, ldc); break;
        }
    }
}
