using System.Globalization;
using System.Runtime.InteropServices;
using ScratchNet.Compute;

namespace ScratchNet.Bench;

/// <summary>
/// GFLOP/s of our convolution (NCHW: the direct kernel where it applies, else im2col + the core's GEMM; where the
/// direct kernel serves a pass, the im2col + GEMM path is timed too, as ours_im2col_gemm, and for forward and backward-data the
/// direct kernel not chosen, for a few-tap backward-weights the 16 × 6 tile, as ours_other_direct) against PyTorch's (Debian's python3-torch with
/// oneDNN, the better of NCHW and channels_last; bench/conv_peer.py) for every distinct convolution of airbench94
/// at the given batch: forward, backward-data and backward-weights, the same thread count, interleaved shape by
/// shape, each line with its share of the measured float32 FMA peak. The peer is the faster, pass by pass, of two builds of
/// libtorch (see <see cref="CnnPeer"/>): PyTorch's as above and TorchSharp's libtorch 2.10 (bench/torchsharp-cnn), each
/// line with both values.
/// </summary>
internal static unsafe class ConvSuite
{
    // airbench94's convolutions as its network runs them on 32 px images: the 2×2 whitening conv (no padding: 32 → 31),
    // then per block a conv before its 2×2 max-pool (which floors: 31 → 15 → 7 → 3) and one after it.
    private static readonly (string Role, int C, int Size, int OC, int Kernel, int Padding)[] Shapes =
    [
        ("whitening 2x2", 3, 32, 24, 2, 0),
        ("block 1 conv 1", 24, 31, 64, 3, 1),
        ("block 1 conv 2", 64, 15, 64, 3, 1),
        ("block 2 conv 1", 64, 15, 256, 3, 1),
        ("block 2 conv 2", 256, 7, 256, 3, 1),
        ("block 3 conv 1", 256, 7, 256, 3, 1),
        ("block 3 conv 2", 256, 3, 256, 3, 1),
    ];

    /// <summary>Whether some convolution's role contains <paramref name="filter"/> (bench conv --shape).</summary>
    public static bool HasShape(string filter) => Shapes.Any(shape => shape.Role.Contains(filter, StringComparison.OrdinalIgnoreCase));

    private static readonly string[] Passes = ["forward", "backward-data", "backward-weights"];

    public static void Run(int threads, int batch, string? shapeFilter = null, int rounds = 2)
    {
        var peaks = new FmaProbe.Peaks(threads);
        peaks.Sample(all: false, attempts: 3);
        var (peers, missing) = CnnPeer.Locate();
        var lines = new List<Action<double>>();
        foreach (var (role, c, size, oc, kernel, padding) in Shapes)
        {
            if (shapeFilter is not null && !role.Contains(shapeFilter, StringComparison.OrdinalIgnoreCase)) continue;
            int outSize = size + 2 * padding - kernel + 1;
            var g = new ConvGeometry(c, size, size, oc, 1, kernel, kernel, 1, 1, padding, padding, outSize, outSize);
            double flops = 2.0 * batch * g.MultiplyAdds;
            var ours = new double[3];
            var peer = new Dictionary<(string Pass, string Peer), (double GFlops, string Layout)>();   // each peer's best per pass
            var failures = new Dictionary<string, string>();
            var rng = new Rng(1);
            float[] x = Random(batch * g.InputSize, rng), w = Random(oc * g.Patch, rng), dy = Random(batch * g.OutputSize, rng);
            float[] y = GC.AllocateUninitializedArray<float>(batch * g.OutputSize, pinned: true);
            float[] dx = GC.AllocateUninitializedArray<float>(batch * g.InputSize, pinned: true), dw = new float[w.Length];
            var kernels = new Convolution<float>();
            float* px = Pin(x), pw = Pin(w), pdy = Pin(dy), py = Pin(y), pdx = Pin(dx), pdw = Pin(dw);
            Action[] actions =
            [
                () => kernels.Forward(g, batch, px, pw, null, py),
                () => kernels.BackwardData(g, batch, pdy, pw, pdx),
                () => kernels.BackwardWeights(g, batch, px, pdy, pdw),
            ];
            bool[] direct = [Convolution<float>.UsesDirect(g, backwardData: false), Convolution<float>.UsesDirect(g, backwardData: true), Convolution<float>.UsesDirectWeights(g)];
            var columnPath = new double[3];   // forward and backward-data through im2col + GEMM too, where the direct kernel serves them
            var otherDirect = new double[3];  // and through the direct kernel not chosen (backward-weights: the 16 × 6 tile where the position-vector one serves)
            bool positionWeights = Convolution<float>.UsesPositionVectorWeights(g);
            var chosen = new[] { Convolution<float>.DirectPath(g, backwardData: false), Convolution<float>.DirectPath(g, backwardData: true) };
            for (int round = 0; round < rounds; round++)
            {
                foreach (var candidate in peers)
                    if (!failures.ContainsKey(candidate.Name) && RunPeer(candidate, batch, c, size, oc, kernel, padding, threads, peer) is { } failure)
                        failures[candidate.Name] = failure;
                for (int p = 0; p < 3; p++)
                {
                    ours[p] = Math.Max(ours[p], flops / Report.SecondsPerCall(actions[p], seconds: 1.0) / 1e9);
                    if (!direct[p]) continue;
                    Convolution<float>.DirectEnabled = false;
                    try { columnPath[p] = Math.Max(columnPath[p], flops / Report.SecondsPerCall(actions[p], seconds: 1.0) / 1e9); }
                    finally { Convolution<float>.DirectEnabled = true; }
                    if (p == 2)
                    {
                        if (!positionWeights) continue;
                        Convolution<float>.PositionVectorWeightsEnabled = false;
                        try { otherDirect[p] = Math.Max(otherDirect[p], flops / Report.SecondsPerCall(actions[p], seconds: 1.0) / 1e9); }
                        finally { Convolution<float>.PositionVectorWeightsEnabled = true; }
                        continue;
                    }
                    Convolution<float>.DirectOverride = chosen[p] == Convolution<float>.DirectKernel.ChannelVector ? Convolution<float>.DirectKernel.PaddedGrid : Convolution<float>.DirectKernel.ChannelVector;
                    try { otherDirect[p] = Math.Max(otherDirect[p], flops / Report.SecondsPerCall(actions[p], seconds: 1.0) / 1e9); }
                    finally { Convolution<float>.DirectOverride = null; }
                }
                peaks.Sample(all: false, attempts: 1);
            }
            string isa = Gemm.Kernel switch { GemmKernel.Avx512 => "AVX-512", GemmKernel.Avx2 => "AVX2", GemmKernel.Vector128 => "Vector128", _ => "scalar" };
            int weightBlock = DirectWeightGradient<float>.BlockWidth(Gemm.Kernel);
            for (int p = 0; p < 3; p++)
            {
                string pass = Passes[p];
                double value = ours[p];
                double? viaColumns = direct[p] ? Math.Round(columnPath[p], 1) : null;   // outside the lambda: it runs after the loop
                double? other = direct[p] && (p < 2 || positionWeights) ? Math.Round(otherDirect[p], 1) : null;
                string path = !direct[p] ? "NCHW im2col+GEMM"
                    : p == 2 && positionWeights ? $"NCHW direct (dW tile: 4 channels x 3 taps over position vectors, {isa})"
                    : p == 2 ? $"NCHW direct (dW tile: {weightBlock} channels x {(DirectWeightGradient<float>.HasTwelveTapTile(Gemm.Kernel) ? "12 (and 6)" : "6")} taps, {isa})"
                    : Convolution<float>.DirectPath(g, backwardData: p == 1) == Convolution<float>.DirectKernel.ChannelVector ? $"NCHW direct (channel vectors: {ChannelVectorConvolution<float>.BlockWidth(Gemm.Kernel, p == 0 ? oc : c)} channels x 6 positions, {isa})"
                    : $"NCHW direct (padded grid, {DirectConvolution<float>.MR}x{DirectConvolution<float>.NR(Gemm.Kernel)} {isa} tile)";
                var faster = peers.Where(candidate => peer.ContainsKey((pass, candidate.Name))).MaxBy(candidate => peer[(pass, candidate.Name)].GFlops);
                bool hasPeer = faster is not null;
                var best = hasPeer ? peer[(pass, faster!.Name)] : default;
                var each = CnnPeer.EachValue(peers, found => peer.TryGetValue((pass, found.Name), out var own) ? own.GFlops : null);
                string? note = CnnPeer.Note(missing, failures.Values);
                string name = Report.Invariant($"conv {role} {c}->{oc} k{kernel} p{padding} at {size}px batch {batch} {pass}, {threads} threads");
                lines.Add(peak => Report.Emit("conv", name, value, faster?.Name, hasPeer ? best.GFlops : null, "GFLOP/s", note,
                [
                    new("ours_path", path),
                    new("ours_im2col_gemm", viaColumns),
                    new("ours_other_direct", other),
                    new("peer_layout", hasPeer ? best.Layout : null),
                    .. each,
                    new("peak", Math.Round(peak, 1)),
                    new("share_of_peak", Math.Round(value / peak, 3)),
                    new("peer_share_of_peak", hasPeer ? Math.Round(best.GFlops / peak, 3) : null),
                ]));
            }
        }
        peaks.Emit();
        foreach (var line in lines) line(peaks.Single);
    }

    // Runs one peer for one shape, keeping its best per pass; returns a note when it failed.
    private static string? RunPeer(CnnPeer peer, int batch, int c, int size, int oc, int kernel, int padding, int threads, Dictionary<(string, string), (double GFlops, string Layout)> best)
    {
        var (lines, error) = peer.Run("conv", [.. new[] { batch, c, size, size, oc, kernel, padding, threads }.Select(v => v.ToString(CultureInfo.InvariantCulture)), "1.0"]);
        foreach (var line in lines)
        {
            string pass = line.GetProperty("pass").GetString()!;
            double gflops = line.GetProperty("gflops").GetDouble();
            if (!best.TryGetValue((pass, peer.Name), out var kept) || gflops > kept.GFlops) best[(pass, peer.Name)] = (gflops, line.GetProperty("layout").GetString()!);
        }
        return error;
    }

    private static float* Pin(float[] array) => (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));

    private static float[] Random(int length, Rng rng)
    {
        var values = GC.AllocateUninitializedArray<float>(length, pinned: true);
        for (int i = 0; i < length; i++) values[i] = (float)rng.NextNormal();
        return values;
    }
}
