using System.Diagnostics;
using System.Text.Json;
using ScratchNet.Data;
using ScratchNet.Gpu;
using ScratchNet.Gpu.Diagnostics;
using ScratchNet.Losses;

namespace ScratchNet.Bench;

/// <summary>
/// The GPU: parity of every layer's device half and of whole training runs against the CPU, then training
/// samples/s of the report's networks at batch 1 and 64 and images/s of airbench94's training step at batch 1024,
/// against PyTorch on the same GPU (the peer's numbers come from <c>bench/gpu_peer.py --cnn</c>, run just before by
/// <c>bench/gpu-check.sh</c>).
/// </summary>
internal static class GpuSuite
{
    private const int Rows = 8192;

    /// <param name="device">"cuda", or "simulator" for a dry run of this suite on a machine without a GPU.</param>
    /// <param name="peerFile">JSON lines from gpu_peer.py, or null.</param>
    public static int Run(string device, string? peerFile)
    {
        bool simulated = device == "simulator";
        GpuDevice backend;
        try
        {
            backend = simulated ? GpuDevice.CreateCpuSimulator() : GpuDevice.CreateCuda();
        }
        catch (DeviceException e)
        {
            Console.WriteLine(JsonSerializer.Serialize(new { suite = "gpu", error = e.Message }));
            return 1;
        }
        using (backend)
        {
            Console.Error.WriteLine($"# backend: {backend.Name}");
            bool parityPassed = Parity(backend, fullSize: !simulated);
            var peers = ReadPeers(peerFile);
            int[] inputSizes = simulated ? [64] : [784, 3072];
            foreach (int inputs in inputSizes)
                foreach (int batch in new[] { 1, 64 })
                {
                    double ours = StepsPerSecond(backend, inputs, batch, simulated) * batch;
                    string key = $"{inputs} batch {batch}";
                    // The batch-1 goal is against the report's own loop written in PyTorch; the faster of the peers is quoted.
                    var peer = peers.Where(p => p.Case == key).OrderByDescending(p => p.SamplesPerSecond).FirstOrDefault();
                    Report.Emit("gpu", $"{inputs}-{(simulated ? "16-8" : "800-300")}-10 batch {batch}, {backend.Name}", ours,
                        peer.Peer, peer.Peer is null ? null : peer.SamplesPerSecond, "samples/s",
                        peer.Peer is null ? "peer missing: run bench/gpu_peer.py first (bench/gpu-check.sh does)" : null);
                }
            if (!simulated) GemmTimes(backend);
            CnnStep(backend, simulated, peers);
            EpochRun(backend, simulated);
            DigitsRun(backend, simulated);
            return parityPassed ? 0 : 1;
        }
    }

    private static bool Parity(GpuDevice backend, bool fullSize)
    {
        var watch = Stopwatch.StartNew();
        var results = new List<ParityResult>(ParityCheck.Layers(backend, seed: 11));
        results.AddRange(ParityCheck.Training(backend, steps: fullSize ? 40 : 20, seed: 12));
        foreach (var r in results)
            Console.WriteLine(JsonSerializer.Serialize(new { suite = "gpu-parity", @case = r.Name, relative_error = r.RelativeError, tolerance = r.Tolerance, passed = r.Passed }));
        int failed = results.Count(r => !r.Passed);
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            suite = "gpu-parity", @case = "summary", checks = results.Count, failed,
            worst = results.Max(r => double.IsNaN(r.RelativeError) ? double.PositiveInfinity : r.RelativeError), seconds = Math.Round(watch.Elapsed.TotalSeconds, 1),
        }));
        return failed == 0;
    }

    // The report's network and recipe on the device, stepped as the trainer steps it: a batch gathered on the host,
    // uploaded, then forward, backward and the optimiser on the device, the host waiting for each step's loss.
    private static double StepsPerSecond(GpuDevice backend, int inputs, int batch, bool simulated)
    {
        double seconds = simulated ? 0.2 : 2.0;
        var (network, data) = ReportNetwork(inputs, Rows, simulated);
        network.MoveTo(backend);
        var x = new Matrix<float>(0, inputs);
        var y = new Matrix<float>(0, 10);
        var rng = new Rng(3);
        int[] permutation = [.. Enumerable.Range(0, Rows)];
        rng.Shuffle<int>(permutation);

        int next = 0;
        void Steps(int count)
        {
            for (int s = 0; s < count; s++)
            {
                if (next + batch > Rows) next = 0;
                data.Gather(permutation.AsSpan(next, batch), x, y);
                network.TrainStep(x, y);
                next += batch;
            }
        }

        // The simulator takes a tenth of a second a step: a dry run only shows that the suite runs.
        Steps(simulated ? 1 : 20);
        var probe = Stopwatch.StartNew();
        Steps(simulated ? 2 : 50);
        int perWindow = simulated ? 2 : Math.Max(10, (int)(50 / probe.Elapsed.TotalSeconds * seconds / 5));
        double best = double.MaxValue;
        for (int window = 0; window < 5; window++)
        {
            var watch = Stopwatch.StartNew();
            Steps(perWindow);
            best = Math.Min(best, watch.Elapsed.TotalSeconds / perWindow);
        }
        network.MoveToHost();
        return 1 / best;
    }

    /// <summary>
    /// airbench94's network (experiments/cifar10-cnn.json): a frozen 2×2 whitening convolution to 24 channels, GELU, three
    /// blocks of conv-pool-BN-GELU-conv-BN-GELU of widths 64/256/256 (3×3 "same", no bias, BN with a frozen weight,
    /// momentum 0.4, eps 1e-12), a 3×3 max-pool, a linear layer to 10 and the scale 1/9; Nesterov SGD (momentum 0.85,
    /// coupled weight decay), the biases at 64× the rate, label smoothing 0.2. He-initialised: the speed does not
    /// depend on the values. The simulator's dry run narrows it to 4/8/8 channels.
    /// </summary>
    internal static Network<float> Airbench(bool narrow, ulong seed = 1)
    {
        int[] widths = narrow ? [4, 8, 8] : [64, 256, 256];
        var network = new Network<float>(new Shape(3, 32, 32), 10, Loss.CrossEntropy, seed: seed)
        {
            Optimizer = new Optimizers.SgdMomentum<float>(0.02, 0.85, nesterov: true, weightDecay: 0.00133043),
            LabelSmoothing = 0.2,
        };
        int whitening = narrow ? 12 : 24;
        var whiten = network.Add(new Layers.Conv2d<float>(network.CurrentShape, whitening, 2, bias: false, frozenWeight: true));
        var rng = new Rng(seed);
        foreach (ref float v in whiten.Weight.Value.Span) v = (float)(0.3 * rng.NextNormal());
        network.Add(new Layers.Gelu<float>(network.CurrentShape, Layers.GeluApproximation.None));
        foreach (int width in widths)
        {
            network.AddConv2dSame(width, 3, bias: false);
            network.AddMaxPool2d(2);
            network.AddBatchNorm2d(momentum: 0.4, epsilon: 1e-12, frozenWeight: true);
            network.Add(new Layers.Gelu<float>(network.CurrentShape, Layers.GeluApproximation.None));
            network.AddConv2dSame(width, 3, bias: false);
            network.AddBatchNorm2d(momentum: 0.4, epsilon: 1e-12, frozenWeight: true);
            network.Add(new Layers.Gelu<float>(network.CurrentShape, Layers.GeluApproximation.None));
        }
        network.AddMaxPool2d(3);
        network.AddFlatten();
        network.AddLinear(10);
        network.Add(new Layers.Scale<float>(network.CurrentShape, 1.0 / 9));
        network.AddSoftmax();
        foreach (var parameter in network.Parameters.Where(p => p.Name == "bias"))
        {
            parameter.LearningRateScale = 64;
            parameter.WeightDecay = 0.00133043 / 64;   // lr·64·λ/64 = lr·λ per step, as the CLI's --bias-lr-scale sets it
        }
        return network;
    }

    // airbench94's training step on synthetic CIFAR-shaped data (random pixels, random labels: the speed does not depend
    // on them), batch 1024 as the recipe; images/s and GFLOP/s (2 flops per multiply-add of every convolution and the
    // linear layer, forward and both backward halves, none for the frozen layer's dW), against PyTorch's same network
    // from gpu_peer.py. Batches are gathered on the host and uploaded per step, as the trainer does; the peer keeps its
    // data on the GPU.
    private static void CnnStep(GpuDevice backend, bool simulated, List<PeerResult> peers)
    {
        int batch = simulated ? 2 : 1024, rows = simulated ? 4 : 8192;
        // The dry run takes the one-thread-per-element GEMM (bit-equal to the tiled one): the CPU accelerator runs a tile's
        // barriers through OS threads, minutes per step at CIFAR's size.
        if (simulated) backend.Primitives<float>().Tiled = false;
        var network = Airbench(narrow: simulated);
        var rng = new Rng(5);
        var x = new Matrix<float>(rows, network.Inputs);
        foreach (ref float v in x.Span) v = (float)rng.NextNormal();
        var y = new Matrix<float>(rows, 10);
        for (int r = 0; r < rows; r++) y[r, rng.NextInt(10)] = 1;
        var data = new Dataset<float>("synthetic cifar", x, y);
        double multiplyAdds = 0;
        foreach (var (_, layer) in Layers.ModuleState.Modules(network.Layers))
            if (layer is Layers.Conv2d<float> conv) multiplyAdds += conv.MultiplyAddsPerSample * (conv.FrozenWeight ? 2 : 3);
            else if (layer is Layers.Linear<float> linear) multiplyAdds += 3.0 * linear.InputSize * linear.OutputSize;
        network.MoveTo(backend);
        var bx = new Matrix<float>(0, network.Inputs);
        var by = new Matrix<float>(0, 10);
        int[] order = [.. Enumerable.Range(0, rows)];
        int next = 0;
        void Steps(int count)
        {
            for (int s = 0; s < count; s++)
            {
                if (next + batch > rows) next = 0;
                data.Gather(order.AsSpan(next, batch), bx, by);
                network.TrainStep(bx, by);
                next += batch;
            }
        }
        if (!simulated) Steps(5);
        int perWindow = simulated ? 1 : 10;
        double best = double.MaxValue;
        for (int window = 0; window < (simulated ? 1 : 5); window++)
        {
            var watch = Stopwatch.StartNew();
            Steps(perWindow);
            best = Math.Min(best, watch.Elapsed.TotalSeconds / perWindow);
        }
        network.MoveToHost();
        backend.Primitives<float>().Tiled = null;
        double images = batch / best;
        string key = $"airbench94 batch {batch}";
        // The ratio is against PyTorch in the same arithmetic (float32, TF32 off); its TF32 rate is quoted beside it.
        var peer = peers.FirstOrDefault(p => p.Case == key && p.Peer!.Contains("TF32 off", StringComparison.Ordinal));
        var tf32 = peers.FirstOrDefault(p => p.Case == key && !p.Peer!.Contains("TF32 off", StringComparison.Ordinal));
        Report.Emit("gpu", $"airbench94 training step{(simulated ? " (4/8/8 channels)" : "")}, batch {batch}, synthetic CIFAR-shaped data, float32, {backend.Name}", images,
            peer.Peer, peer.Peer is null ? null : peer.SamplesPerSecond, "images/s",
            peer.Peer is null ? "peer missing: run bench/gpu_peer.py --cnn first (bench/gpu-check.sh does)" : null,
            [new("gflops", Math.Round(images * 2 * multiplyAdds / 1e9, 1)), new("seconds_per_step", Math.Round(best, 4)),
             new("peer_tf32_images_per_s", tf32.Peer is null ? null : tf32.SamplesPerSecond)]);
    }

    // Microseconds per GEMM primitive of a batch-64 step of the report's first layer (forward, input gradient, weight
    // gradient), to see where a mini-batch step's time goes.
    private static void GemmTimes(GpuDevice backend)
    {
        const int Batch = 64, Outputs = 800;
        var run = backend.Primitives<float>();
        foreach (int inputs in new[] { 784, 3072 })
        {
            using var x = backend.Allocate<float>(Batch * inputs);
            using var w = backend.Allocate<float>(Outputs * inputs);
            using var z = backend.Allocate<float>(Batch * Outputs);
            void Time(string name, Action launch)
            {
                for (int i = 0; i < 20; i++) launch();
                backend.Synchronize();
                var watch = Stopwatch.StartNew();
                for (int i = 0; i < 200; i++) launch();
                backend.Synchronize();
                Console.WriteLine(JsonSerializer.Serialize(new { suite = "gpu-kernels", @case = $"{name}, batch {Batch}, {inputs} inputs", microseconds = Math.Round(watch.Elapsed.TotalMicroseconds / 200, 1) }));
            }
            Time("forward x·Wᵀ, 800 outputs", () => run.Gemm(false, true, Batch, Outputs, inputs, 1f, x.View, inputs, w.View, inputs, 0f, z.View, Outputs));
            Time("input gradient dz·W", () => run.Gemm(false, false, Batch, inputs, Outputs, 1f, z.View, Outputs, w.View, inputs, 0f, x.View, inputs));
            Time("weight gradient dzᵀ·x", () => run.Gemm(true, false, Outputs, inputs, Batch, 1f, z.View, Outputs, x.View, inputs, 1f, w.View, inputs));
        }
    }

    // One trainer epoch on the device over Fashion-MNIST-sized random data at batch 1: the end-to-end rate with the epoch's statistics.
    private static void EpochRun(GpuDevice backend, bool simulated)
    {
        int samples = simulated ? 40 : 60_000;
        var (network, data) = ReportNetwork(simulated ? 64 : 784, samples, simulated);
        network.MoveTo(backend);
        var trainer = new Training.Trainer<float>(network, data, seed: 4) { Output = TextWriter.Null };
        var history = trainer.Train(1, batchSize: 1);
        network.MoveToHost();
        double seconds = history.Final.Seconds;
        Report.Emit("gpu", $"trainer epoch on the device, {samples} samples x {network.Inputs}, batch 1, statistics included, {backend.Name}",
            trainer.TrainRows.Count / seconds, null, null, "samples/s");
    }

    // The CLI's default job (embedded UCI digits, 64-128-64-10, batch 32) trained on the CPU and on the device from one seed.
    private static void DigitsRun(GpuDevice backend, bool simulated)
    {
        int epochs = simulated ? 1 : 30;
        var data = Digits.Load<float>();
        Network<float> Build()
        {
            var network = new Network<float>(data.FeatureCount, data.TargetCount, Loss.CrossEntropy, regularizationFactor: 1e-4, learningRate: 0.1, seed: 7);
            foreach (int width in new[] { 128, 64 })
            {
                network.AddLinear(width, w: Network<float>.HeScale(network.CurrentWidth), regularization: true);
                network.AddRelu();
            }
            network.AddLinear(data.TargetCount, w: Network<float>.HeScale(network.CurrentWidth), regularization: true);
            network.AddSoftmax();
            return network;
        }
        var cpu = Build();
        var cpuWatch = Stopwatch.StartNew();
        var cpuHistory = new Training.Trainer<float>(cpu, data, seed: 7) { Output = TextWriter.Null }.Train(epochs, batchSize: 32);
        double cpuSeconds = cpuWatch.Elapsed.TotalSeconds;
        var gpu = Build().MoveTo(backend);
        var gpuWatch = Stopwatch.StartNew();
        var gpuHistory = new Training.Trainer<float>(gpu, data, seed: 7) { Output = TextWriter.Null }.Train(epochs, batchSize: 32);
        double gpuSeconds = gpuWatch.Elapsed.TotalSeconds;
        gpu.MoveToHost();
        double worst = Enumerable.Range(0, cpu.Parameters.Count)
            .Max(p => ParityCheck.RelativeError(gpu.Parameters[p].Value, cpu.Parameters[p].Value));
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            suite = "gpu-digits", epochs, batch = 32,
            cpu_val_acc = cpuHistory.Final.ValidationAccuracy, device_val_acc = gpuHistory.Final.ValidationAccuracy,
            cpu_val_loss = cpuHistory.Final.ValidationLoss, device_val_loss = gpuHistory.Final.ValidationLoss,
            worst_weight_relative_error = worst, cpu_seconds = Math.Round(cpuSeconds, 2), device_seconds = Math.Round(gpuSeconds, 2), device = backend.Name,
        }));
    }

    // The report's network; a dry run on the simulator shrinks its hidden layers (800, 300 → 16, 8) to finish in seconds.
    private static (Network<float>, Dataset<float>) ReportNetwork(int inputs, int rows, bool simulated) =>
        (ReportWorkload.Network(inputs, hidden: simulated ? (16, 8) : null), ReportWorkload.RandomData(inputs, rows));

    private readonly record struct PeerResult(string Case, string? Peer, double SamplesPerSecond);

    private static List<PeerResult> ReadPeers(string? path)
    {
        var peers = new List<PeerResult>();
        if (path is null || !File.Exists(path)) return peers;
        foreach (string line in File.ReadLines(path))
        {
            if (!line.TrimStart().StartsWith('{')) continue;
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            if (root.TryGetProperty("case", out var name) && root.TryGetProperty("samples_per_s", out var rate) && root.TryGetProperty("peer", out var peer))
                peers.Add(new(name.GetString()!, peer.GetString(), rate.GetDouble()));
        }
        return peers;
    }
}
