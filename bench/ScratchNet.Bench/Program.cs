// ScratchNet benchmarks: one JSON object per line, so that runs can be compared by scripts.
//   dotnet run -c Release --project bench/ScratchNet.Bench -- <suite>
// Suites: gemm (GFLOP/s of our GEMM at the layer shapes), train (training samples/s of the report's
// networks). Peers (OpenBLAS, TorchSharp) join these suites with the kernels issue; until then the
// peer fields are null.
using System.Diagnostics;
using System.Globalization;
using ScratchNet;
using ScratchNet.Compute;
using ScratchNet.Losses;

string suite = args.Length > 0 ? args[0] : "";
switch (suite)
{
    case "gemm": Gemms(); break;
    case "train": Training(); break;
    default:
        Console.Error.WriteLine("usage: ScratchNet.Bench gemm|train");
        return 2;
}
return 0;

static void Gemms()
{
    // (m, n, k) as in the issue: batch × outputs × inputs of the report's layers, and square sizes.
    foreach (var (m, n, k) in new[] { (64, 3072, 800), (800, 64, 3072), (64, 800, 300), (256, 3072, 800), (1024, 1024, 1024) })
    {
        var a = Random(m, k, 1);
        var b = Random(k, n, 2);
        var c = new Tensor<float>(m, n);
        double seconds = Time(() => Gemm.Multiply(a, false, b, false, c, 1f, 0f));
        Emit("gemm", $"sgemm_nn_{m}x{n}x{k}", 2.0 * m * n * k / seconds / 1e9, "GFLOP/s");
    }
}

static void Training()
{
    foreach (int inputs in new[] { 784, 3072 })
        foreach (int batch in new[] { 1, 64 })
        {
            var net = new Network<float>(inputs, 10, Loss.CrossEntropy, 1e-4, 2e-4);
            net.AddLinear(800, w: 0.001, regularization: true); net.AddRelu();
            net.AddLinear(300, w: 0.0025, regularization: true); net.AddRelu();
            net.AddLinear(10, w: 0.03, regularization: true); net.AddSoftmax();
            var x = Random(batch, inputs, 3);
            var y = new Tensor<float>(batch, 10);
            for (int r = 0; r < batch; r++) y[r, r % 10] = 1;
            double seconds = Time(() => net.TrainStep(x, y));
            Emit("train", $"mlp_{inputs}-800-300-10_batch{batch}", batch / seconds, "samples/s");
        }
}

// Median seconds per call after a warm-up that lets the tiered JIT settle.
static double Time(Action action)
{
    for (int i = 0; i < 5; i++) action();
    var samples = new List<double>();
    var total = Stopwatch.StartNew();
    while (samples.Count < 7 || (total.Elapsed.TotalSeconds < 1 && samples.Count < 1000))
    {
        var watch = Stopwatch.StartNew();
        action();
        samples.Add(watch.Elapsed.TotalSeconds);
    }
    samples.Sort();
    return samples[samples.Count / 2];
}

static Tensor<float> Random(int rows, int cols, ulong seed)
{
    var rng = new Rng(seed);
    var t = new Tensor<float>(rows, cols);
    foreach (ref float v in t.Span) v = (float)rng.NextNormal();
    return t;
}

static void Emit(string suite, string name, double ours, string unit) =>
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{{\"suite\":\"{suite}\",\"case\":\"{name}\",\"ours\":{ours:F1},\"peer\":null,\"peer_value\":null,\"unit\":\"{unit}\",\"ratio\":null}}"));
