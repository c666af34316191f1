using System.Globalization;
using ScratchNet.Compute;

namespace ScratchNet.Bench;

/// <summary>
/// GFLOP/s of our SGEMM against OpenBLAS at the MLP's shapes and two squares, same thread count, OpenBLAS
/// on its best kernel for the CPU (<see cref="OpenBlas.CoreFor"/>), each line with its share of the
/// measured float32 FMA peak (<see cref="FmaProbe"/>) at that thread count.
/// </summary>
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

    /// <summary>Largest |ours − peer| relative to the largest |ours| above which the peer's time is not reported.</summary>
    public const double PeerTolerance = 1e-4;

    public static void Run(int threads, int rounds = 3)
    {
        var peaks = new FmaProbe.Peaks(threads);
        peaks.Sample(all: true, attempts: 3);
        if (OpenBlas.Available) OpenBlas.Threads(threads);
        string? core = OpenBlas.Core;
        var lines = new List<Action<double>>();
        foreach (var (m, k, n, transposeA, transposeB, role) in Shapes)
        {
            var rng = new Rng(1);
            var a = Random(transposeA ? k : m, transposeA ? m : k, rng);
            var b = Random(transposeB ? n : k, transposeB ? k : n, rng);
            var c = new Matrix<float>(m, n);
            var peerC = new Matrix<float>(m, n);
            void Ours() => Gemm.Multiply(a, transposeA, b, transposeB, c, 1f, 0f);
            void Peer()
            {
                fixed (float* pa = a.Span, pb = b.Span, pc = peerC.Span)
                    OpenBlas.Multiply(pa, a.Cols, transposeA, pb, b.Cols, transposeB, pc, m, n, k);
            }
            double flops = 2.0 * m * n * k;
            double ours = 0, peer = 0;
            double? difference = null;
            if (OpenBlas.Available)
            {
                Ours();
                Peer();
                difference = MaxRelativeDifference(c.Span, peerC.Span);
            }
            bool peerValid = difference <= PeerTolerance;
            // Interleaved rounds: each side gets the machine in the same state as the other; the best of each.
            for (int round = 0; round < rounds; round++)
            {
                ours = Math.Max(ours, flops / Report.SecondsPerCall(Ours) / 1e9);
                if (peerValid) peer = Math.Max(peer, flops / Report.SecondsPerCall(Peer) / 1e9);
            }
            string name = $"sgemm {m}x{k}x{n} {(transposeA ? 'T' : 'N')}{(transposeB ? 'T' : 'N')} ({role}), {threads} threads, kernel {Gemm.Kernel}";
            string? note = !OpenBlas.Available ? "peer skipped: libopenblas.so.0 not found (apt-get install libopenblas0-pthread)"
                : !peerValid ? Report.Invariant($"peer not timed: its C differs from ours by {difference:G3} of max |C| (tolerance {PeerTolerance:G1})")
                : OpenBlas.RequestedCore is { } requested && requested != core ? $"asked OpenBLAS for {requested}, it runs {core}"
                : null;
            // The lines wait for the peak, sampled between the shapes.
            peaks.Sample(all: false, attempts: 2);
            lines.Add(peak => Report.Emit("gemm", name, ours, OpenBlas.Name, peerValid ? peer : null, "GFLOP/s", note,
            [
                new("peer_kernel", core),
                new("peak", Math.Round(peak, 1)),
                new("share_of_peak", Math.Round(ours / peak, 3)),
                new("peer_share_of_peak", peerValid ? Math.Round(peer / peak, 3) : null),
                new("peer_max_rel_diff", difference is { } d && double.IsFinite(d) ? double.Parse(Report.Invariant($"{d:G3}"), CultureInfo.InvariantCulture) : null),
            ]));
        }
        peaks.Sample(all: true, attempts: 3);
        peaks.Emit();
        foreach (var line in lines) line(peaks.Single);
    }

    /// <summary>max |x − y| over max |x|: how far <paramref name="y"/> is from <paramref name="x"/>, relative to x's scale.</summary>
    public static double MaxRelativeDifference(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        if (x.Length != y.Length) throw new ArgumentException($"lengths differ: {x.Length} and {y.Length}");
        double difference = 0, scale = 0;
        for (int i = 0; i < x.Length; i++)
        {
            difference = Math.Max(difference, Math.Abs((double)x[i] - y[i]));
            scale = Math.Max(scale, Math.Abs((double)x[i]));
        }
        // A NaN on either side makes the result NaN (Math.Max keeps it), which no tolerance accepts.
        return scale == 0 ? difference : difference / scale;
    }

    private static Matrix<float> Random(int rows, int cols, Rng rng)
    {
        var t = new Matrix<float>(rows, cols);
        foreach (ref float v in t.Span) v = (float)rng.NextNormal();
        return t;
    }
}
