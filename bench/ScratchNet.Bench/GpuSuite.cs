using System.Diagnostics;
using System.Text.Json;
using ScratchNet.Data;
using ScratchNet.Gpu;
using ScratchNet.Gpu.Diagnostics;
using ScratchNet.Losses;

namespace ScratchNet.Bench;

/// <summary>
/// The GPU: parity of every layer's device half and of whole training runs against the CPU, then training
/// samples/s of the report's networks at batch 1 and 64, against PyTorch on the same GPU (the peer's
/// numbers come from <c>bench/gpu_peer.py</c>, run just before by <c>bench/gpu-check.sh</c>).
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
