using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ScratchNet.Layers;
using ScratchNet.Losses;
using ScratchNet.Optimizers;

namespace ScratchNet.Bench;

/// <summary>
/// Images/s of the CNN recipes' training step (experiments/cifar10-cnn.json, airbench94's network, and
/// cifar10-cnn-quick.json) at the recipe's batch on synthetic CIFAR-shaped data, against the same network in
/// PyTorch (bench/cnn_train_peer.py: Debian's python3-torch with oneDNN, autograd, torch.optim.SGD with Nesterov; the
/// better of NCHW and channels_last) and in TorchSharp's libtorch 2.10 (bench/torchsharp-cnn, the same step; the faster of
/// the two is the line's peer, see <see cref="CnnPeer"/>), the same thread count. Ours runs in a child process of its own, as the peer
/// does, so that each peak working set is the step's alone. Each line has the step's GFLOP/s (multiply-adds of the
/// convolutions and linear layers ×2, ×3 for forward, backward-data and backward-weights) and its share of the
/// measured float32 FMA peak.
/// </summary>
internal static class CnnTrainSuite
{
    private static readonly string[] Recipes = ["cifar10-cnn.json", "cifar10-cnn-quick.json"];

    public static void Run(int threads, int? batchOverride, double seconds = 20)
    {
        var peaks = new FmaProbe.Peaks(threads);
        peaks.Sample(all: false, attempts: 3);
        var lines = new List<Action<double>>();
        var (peers, missing) = CnnPeer.Locate();
        foreach (string recipe in Recipes)
        {
            string? path = Repository.Find(Path.Combine("experiments", recipe));
            if (path is null)
            {
                Console.Error.WriteLine($"bench cnn: experiments/{recipe} not found above {AppContext.BaseDirectory} or the working folder; skipped.");
                continue;
            }
            using var config = JsonDocument.Parse(File.ReadAllText(path));
            int batch = batchOverride ?? config.RootElement.GetProperty("batch_size").GetInt32();
            double flopsPerImage = 0;
            var (oursRate, oursPeak) = (0.0, 0.0);
            var fastest = new Dictionary<string, (double Rate, double PeakMb, string Layout)>();   // each peer's best
            var failures = new Dictionary<string, string>();
            for (int round = 0; round < 2; round++)
            {
                var ours = RunChild(path, batch, threads, seconds);
                if (ours.Error is not null) { Console.Error.WriteLine($"bench cnn: ours failed on {recipe}: {ours.Error}"); break; }
                flopsPerImage = ours.FlopsPerImage;
                if (ours.Rate > oursRate) (oursRate, oursPeak) = (ours.Rate, ours.PeakMb);
                foreach (var candidate in peers)
                    foreach (string layout in new[] { "NCHW", "channels_last" })
                    {
                        if (failures.ContainsKey(candidate.Name)) break;
                        var (measured, error) = candidate.Run("train", [path, Inv(batch), Inv(threads), layout, Inv(seconds)]);
                        if (error is not null) { failures[candidate.Name] = error; break; }
                        double peerRate = measured[^1].GetProperty("images_per_s").GetDouble(), peerPeak = measured[^1].GetProperty("peak_rss_mb").GetDouble();
                        if (!fastest.TryGetValue(candidate.Name, out var kept) || peerRate > kept.Rate) fastest[candidate.Name] = (peerRate, peerPeak, layout);
                    }
                peaks.Sample(all: false, attempts: 1);
            }
            if (oursRate == 0) continue;
            string name = Report.Invariant($"cnn {Path.GetFileNameWithoutExtension(recipe)} training step, batch {batch}, {threads} threads");
            double rate = oursRate, perImage = flopsPerImage, ourPeak = oursPeak;
            var faster = peers.Where(candidate => fastest.ContainsKey(candidate.Name)).MaxBy(candidate => fastest[candidate.Name].Rate);
            bool hasPeer = faster is not null;
            var (theirRate, theirPeak, layoutUsed) = hasPeer ? fastest[faster!.Name] : default;
            var each = CnnPeer.EachValue(peers, found => fastest.TryGetValue(found.Name, out var own) ? own.Rate : null);
            string? note = CnnPeer.Note(missing, failures.Values);
            lines.Add(peak => Report.Emit("train", name, rate, faster?.Name, hasPeer ? theirRate : null, "images/s", note,
            [
                new("gflops", Math.Round(rate * perImage / 1e9, 1)),
                new("peer_gflops", hasPeer ? Math.Round(theirRate * perImage / 1e9, 1) : null),
                new("peak", Math.Round(peak, 1)),
                new("share_of_peak", Math.Round(rate * perImage / 1e9 / peak, 3)),
                new("peer_share_of_peak", hasPeer ? Math.Round(theirRate * perImage / 1e9 / peak, 3) : null),
                new("peak_working_set_mb", Math.Round(ourPeak, 1)),
                new("peer_peak_rss_mb", hasPeer ? Math.Round(theirPeak, 1) : null),
                new("peer_layout", hasPeer ? layoutUsed : null),
                new("gflop_per_image", Math.Round(perImage / 1e9, 3)),
                .. each,
            ]));
        }
        peaks.Emit();
        foreach (var line in lines) line(peaks.Single);
    }

    /// <summary>
    /// Inside the child process: builds the recipe's network (He-normal weights, its inits aside: they do not change
    /// the work), times its training step on random CIFAR-shaped data and prints one JSON object. With
    /// <paramref name="afterFreezes"/>, the parameters of the entries with <c>freeze_after_epochs</c> are frozen, as in the
    /// epochs after it (the whitening bias: the step then does not run backward through the layers before the first that learns).
    /// </summary>
    public static int Child(string configPath, int batch, int threads, double seconds, bool afterFreezes = false)
    {
        Compute.Threading.ThreadCount = threads;
        using var config = JsonDocument.Parse(File.ReadAllText(configPath));
        var root = config.RootElement;
        var net = new Network<float>(new Shape(3, 32, 32), 10, Loss.CrossEntropy, 0, root.GetProperty("lr").GetDouble(), seed: 1);
        foreach (var layer in LayerSettings.ReadChain<float>(root.GetProperty("network"), net.InputShape, "network", what => new InvalidDataException(what)))
            net.Add(layer);
        var rng = new Rng(2);
        foreach (var p in net.Parameters.Where(p => p.Name == "weight" && p.Shape.Rank >= 2))
            Initializers.Fill(p.Value.Span, Init.HeNormal, p.Shape.Size / p.Shape[0], p.Shape[0], rng);
        foreach (var conv in net.Layers.OfType<Conv2d<float>>().Where(c => c.FrozenWeight))
            Initializers.Fill(conv.Weight.Value.Span, Init.HeNormal, conv.Weight.Shape.Size / conv.OutChannels, conv.OutChannels, rng);
        net.Build();
        if (afterFreezes)
        {
            int index = 0;
            foreach (var entry in root.GetProperty("network").EnumerateArray())
            {
                if (entry.TryGetProperty("freeze_after_epochs", out _))
                    foreach (var p in net.Layers[index].Parameters) p.Frozen = true;
                index++;
            }
        }
        net.LabelSmoothing = root.TryGetProperty("label_smoothing", out var smoothing) ? smoothing.GetDouble() : 0;
        net.Optimizer = new SgdMomentum<float>(root.GetProperty("lr").GetDouble(), root.GetProperty("momentum").GetDouble(), nesterov: true,
            root.GetProperty("weight_decay").GetDouble());
        var x = new Matrix<float>(batch, net.Inputs);
        foreach (ref float v in x.Span) v = (float)rng.NextNormal();
        var y = new Matrix<float>(batch, 10);
        for (int r = 0; r < batch; r++) y[r, (int)(rng.NextUInt64() % 10)] = 1;
        for (int i = 0; i < 2; i++) net.TrainStep(x, y);
        double best = double.MaxValue;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds || best == double.MaxValue)
        {
            var step = Stopwatch.StartNew();
            net.TrainStep(x, y);
            best = Math.Min(best, step.Elapsed.TotalSeconds);
        }
        double multiplyAdds = net.Layers.Sum(l => l switch
        {
            Conv2d<float> conv => (double)conv.MultiplyAddsPerSample * (conv.FrozenWeight && ReferenceEquals(conv, net.Layers[0]) ? 1 : 3),
            Linear<float> linear => 3.0 * linear.InputSize * linear.OutputSize,
            _ => 0,
        });
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            images_per_s = batch / best,
            peak_working_set_mb = Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0,
            flops_per_image = 2 * multiplyAdds,
        }));
        return 0;
    }

    /// <summary>
    /// <c>bench cnn-layers CONFIG BATCH THREADS</c>: milliseconds of each layer's forward and backward in the recipe's
    /// network at the batch (training mode, random upstream gradients), to see where a step's time goes. With
    /// <paramref name="paired"/> the layers are paired as a built network pairs them (a batch norm applies the activation
    /// after it, whose row then reads about 0); without, each layer computes only its own function.
    /// </summary>
    public static int Layers(string configPath, int batch, int threads, bool paired = false)
    {
        Compute.Threading.ThreadCount = threads;
        using var config = JsonDocument.Parse(File.ReadAllText(configPath));
        var shape = new Shape(3, 32, 32);
        var layers = LayerSettings.ReadChain<float>(config.RootElement.GetProperty("network"), shape, "network", what => new InvalidDataException(what));
        if (paired) Network<float>.PairActivations(layers);
        var rng = new Rng(3);
        var x = new Matrix<float>(batch, shape.Size);
        foreach (ref float v in x.Span) v = (float)rng.NextNormal();
        foreach (var layer in layers)
        {
            foreach (var p in layer.Parameters.Concat(layer is Conv2d<float> c ? [c.Weight] : []))
                foreach (ref float v in p.Value.Span) v = (float)(0.05 * rng.NextNormal());
            if (layer is BatchNorm2d<float> bn) bn.Training = true;
            var input = x;
            double forward = Report.SecondsPerCall(() => layer.Forward(input), seconds: 0.5);
            var output = layer.Forward(input);
            var g = new Matrix<float>(output.Rows, output.Cols);
            foreach (ref float v in g.Span) v = (float)rng.NextNormal();
            double backward = Report.SecondsPerCall(() => { layer.Forward(input); layer.Backward(g); }, seconds: 0.5) - forward;
            Console.WriteLine(Report.Invariant($"{layer.Kind,-18} {layer.InputShape,-14} -> {layer.OutputShape,-14} forward {forward * 1e3,8:F1} ms  backward {backward * 1e3,8:F1} ms"));
            x = output.Clone();
        }
        return 0;
    }

    private record struct Measured(double Rate, double PeakMb, double FlopsPerImage, string? Error);

    private static Measured RunChild(string config, int batch, int threads, double seconds)
    {
        string self = Environment.ProcessPath!, dll = typeof(CnnTrainSuite).Assembly.Location;
        string[] args = [.. Path.GetFileNameWithoutExtension(self) == "dotnet" ? new[] { dll } : [], "cnn-child", config, Inv(batch), Inv(threads), Inv(seconds)];
        var (code, stdout, stderr) = Execute(self, args);
        if (code != 0) return new(0, 0, 0, stderr.Trim().Split('\n')[^1]);
        using var json = JsonDocument.Parse(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);
        var r = json.RootElement;
        return new(r.GetProperty("images_per_s").GetDouble(), r.GetProperty("peak_working_set_mb").GetDouble(), r.GetProperty("flops_per_image").GetDouble(), null);
    }

    private static (int Code, string Stdout, string Stderr) Execute(string file, string[] args)
    {
        var start = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout, stderr.Result);
    }

    private static string Inv(double value) => value.ToString(CultureInfo.InvariantCulture);
}
