using System.Diagnostics;
using System.Text.Json;
using ScratchNet.Losses;

namespace ScratchNet.Bench;

/// <summary>
/// Training samples/s of the report's networks (784 or 3072 inputs, 800-300-10, SGD, L2 penalty,
/// softmax + cross-entropy) at batch 1 (the report's loop) and batch 64, against the TorchSharp peer
/// (libtorch) running the same loops in its own process.
/// </summary>
internal static class TrainSuite
{
    private const int Rows = 4096;

    public static void Run(int threads)
    {
        string? peer = TorchSharpPeer.Locate();
        foreach (int inputs in new[] { 784, 3072 })
            foreach (int batch in new[] { 1, 64 })
            {
                double ours = 0, theirs = 0;
                string peerName = "torchsharp";
                for (int round = 0; round < 2; round++)
                {
                    ours = Math.Max(ours, Ours(inputs, batch));
                    if (peer is null) continue;
                    var (name, value) = TorchSharpPeer.Run(peer, inputs, batch, threads);
                    (peerName, theirs) = (name, Math.Max(theirs, value));
                }
                string loop = batch == 1 ? "batch 1 (report's loop; peer: hand-written backward)" : $"batch {batch} (peer: Sequential + autograd + SGD)";
                Report.Emit("train", $"{inputs}-800-300-10 {loop}, {threads} threads", ours, peer is null ? null : peerName, peer is null ? null : theirs, "samples/s",
                    peer is null ? "peer skipped: build it with bench/build-torchsharp-peer.sh or set SCRATCHNET_TORCHSHARP_PEER" : null);
            }
    }

    private static double Ours(int inputs, int batch)
    {
        var net = ReportWorkload.Network(inputs);
        net.DeferSteps = true;   // as inside Trainer.Train's epochs: a batch-1 update may land in the next forward pass
        var data = ReportWorkload.RandomData(inputs, Rows);
        var xb = new Matrix<float>(batch, inputs);
        var yb = new Matrix<float>(batch, 10);
        var rows = new int[batch];
        int next = 0;
        double seconds = Report.SecondsPerCall(() =>
        {
            for (int i = 0; i < batch; i++) rows[i] = (next + i) % Rows;
            next = (next + batch) % Rows;
            data.Gather(rows, xb, yb);
            net.TrainStep(xb, yb);
        }, seconds: 2);
        return batch / seconds;
    }
}

/// <summary>The TorchSharp peer of <c>../shared/peers/torchsharp-mlp</c>, built outside the repository and run as a separate process.</summary>
internal static class TorchSharpPeer
{
    public static string? Locate() => PeerCache.Locate("SCRATCHNET_TORCHSHARP_PEER", "torchsharp-mlp", "TorchSharpMlp");

    public static (string Name, double SamplesPerSecond) Run(string executable, int inputs, int batch, int threads)
    {
        string mode = batch == 1 ? "seed" : "torch";
        int steps = batch == 1 ? (inputs > 1000 ? 600 : 1500) : 150;
        var start = new ProcessStartInfo(executable, ["--mode", mode, "--input", $"{inputs}", "--batch", $"{batch}", "--steps", $"{steps}", "--threads", $"{threads}"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {executable}.");
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        string line = output.Split('\n').LastOrDefault(l => l.StartsWith('{')) ?? throw new InvalidOperationException($"The TorchSharp peer printed no JSON: {output}");
        using var json = JsonDocument.Parse(line);
        return (json.RootElement.GetProperty("peer").GetString() ?? "torchsharp", json.RootElement.GetProperty("samples_per_s").GetDouble());
    }
}
