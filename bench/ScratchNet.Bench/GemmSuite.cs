using ScratchNet.Compute;

namespace ScratchNet.Bench;

/// <summary>GFLOP/s of our SGEMM against OpenBLAS at the MLP's shapes and two squares, same thread count.</summary>
internal static unsafe class GemmSuite
{
    // m×k×n with the transposes the layers use: forward X·Wᵀ (NT), weight gradient dYᵀ·X (TN).
    private static readonly (int M, int K, int N, bool TransposeA, bool TransposeB, string Role)[] Shapes =
    [
        (64, 3072, 800, false, true, "forward"),
        (800, 64, 3072, true, false, "weight gradient"),
        (64, 800, 300, false, true, "forward"),
        (256, 3072, 800, false, true, "forward"),
        (1024, 1024, 1024, false, false, "square"),
        (2048, 2048, 2048, false, false, "square"),
    ];

    public static void Run(int threads)
    {
        if (OpenBlas.Available) OpenBlas.Threads(threads);
        foreach (var (m, k, n, transposeA, transposeB, role) in Shapes)
        {
            var rng = new Rng(1);
            var a = Random(transposeA ? k : m, transposeA ? m : k, rng);
            var b = Random(transposeB ? n : k, transposeB ? k : n, rng);
            var c = new Matrix<float>(m, n);
            double flops = 2.0 * m * n * k;
            double ours = 0, peer = 0;
            // Interleaved rounds: each side gets the machine in the same state as the other.
            for (int round = 0; round < 2; round++)
            {
                ours = Math.Max(ours, flops / Report.SecondsPerCall(() => Gemm.Multiply(a, transposeA, b, transposeB, c, 1f, 0f)) / 1e9);
                if (!OpenBlas.Available) continue;
                peer = Math.Max(peer, flops / Report.SecondsPerCall(() =>
                {
                    fixed (float* pa = a.Span, pb = b.Span, pc = c.Span)
                        OpenBlas.Multiply(pa, a.Cols, transposeA, pb, b.Cols, transposeB, pc, m, n, k);
                }) / 1e9);
            }
            string name = $"sgemm {m}x{k}x{n} {(transposeA ? 'T' : 'N')}{(transposeB ? 'T' : 'N')} ({role}), {threads} threads, kernel {Gemm.Kernel}";
            Report.Emit("gemm", name, ours, OpenBlas.Name, OpenBlas.Available ? peer : null, "GFLOP/s",
                OpenBlas.Available ? null : "peer skipped: libopenblas.so.0 not found (apt-get install libopenblas0-pthread)");
        }
    }

    private static Matrix<float> Random(int rows, int cols, Rng rng)
    {
        var t = new Matrix<float>(rows, cols);
        foreach (ref float v in t.Span) v = (float)rng.NextNormal();
        return t;
    }
}
