// Peer benchmark for ScratchNet's convolutions, in TorchSharp (libtorch with oneDNN, CPU): the twin of
// bench/conv_peer.py and bench/cnn_train_peer.py (Debian's python3-torch 1.13), with the same arguments and the same
// JSON lines, so that bench conv and bench cnn take the faster of the two libtorch builds.
//   conv BATCH C H W OC KERNEL PADDING THREADS SECONDS
//     one line per pass (forward, backward-data, backward-weights): the better of NCHW and channels_last, each the
//     best of 5 windows after a warm-up. Backward through torch.autograd.grad on a kept graph whose other operand
//     needs no gradient, so that each half is computed alone (libtorch asks convolution_backward for that one output).
//   train CONFIG.json BATCH THREADS LAYOUT SECONDS
//     one line: images/s of the recipe's training step (its network list without the softmax, cross-entropy with its
//     label smoothing, autograd, optim.SGD with its Nesterov momentum and coupled weight decay), the best step after
//     two warm-up steps, and the peak resident set.
// Data is synthetic and CIFAR-shaped (timing only). Bad arguments: one line on stderr, exit code 2.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

try
{
    return args.FirstOrDefault() switch
    {
        "conv" when args.Length == 10 => Conv(args[1..].Take(8).Select(Integer).ToArray(), Number(args[9])),
        "train" when args.Length == 6 => Train(args[1], Integer(args[2]), Integer(args[3]), args[4], Number(args[5])),
        _ => Usage(),
    };
}
catch (ArgumentException error)
{
    Console.Error.WriteLine($"TorchSharpCnn: {error.Message}");
    return 2;
}
catch (System.Runtime.InteropServices.ExternalException error)   // libtorch refused an operation (e.g. layers whose sizes do not chain)
{
    Console.Error.WriteLine($"TorchSharpCnn: libtorch: {error.Message.Split('\n')[0]}");
    return 1;
}

static int Usage()
{
    Console.Error.WriteLine("usage: TorchSharpCnn conv BATCH C H W OC KERNEL PADDING THREADS SECONDS | train CONFIG.json BATCH THREADS NCHW|channels_last SECONDS");
    return 2;
}

static int Integer(string text) => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value)
    ? value : throw new ArgumentException($"'{text}' is not a non-negative whole number");

static double Number(string text) => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value > 0
    ? value : throw new ArgumentException($"'{text}' is not a positive number of seconds");

// torch.channels_last has no TorchSharp call: an NHWC copy viewed back as NCHW has its strides, which libtorch's
// suggest_memory_format reads as channels_last (and oneDNN then runs that layout). Takes t and the copy's handle
// (the view keeps the copy's storage), so that no NCHW original waits for the finaliser and counts in the peak.
static Tensor ChannelsLast(Tensor t)
{
    using (t)
    using (var nhwc = t.permute(0, 2, 3, 1).contiguous())
        return nhwc.permute(0, 3, 1, 2);
}

// Seconds per call: the best of 5 windows after a warm-up of at least 0.5 s, as bench/conv_peer.py and ours
// (Report.SecondsPerCall in the bench, a project this one cannot reference from the user cache) time.
static double Timed(Action step, double seconds)
{
    var clock = Stopwatch.StartNew();
    int calls = 0;
    while (clock.Elapsed.TotalSeconds < 0.5 || calls < 3) { step(); calls++; }
    int perWindow = Math.Max(1, (int)(calls / clock.Elapsed.TotalSeconds * seconds / 5));
    double best = double.MaxValue;
    for (int window = 0; window < 5; window++)
    {
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < perWindow; i++) step();
        best = Math.Min(best, watch.Elapsed.TotalSeconds / perWindow);
    }
    return best;
}

static string Version() => $"libtorch {torch.__version__} (TorchSharp 0.107.0)";

static int Conv(int[] shape, double seconds)
{
    var (batch, c, h, w, oc, kernel, padding, threads) = (shape[0], shape[1], shape[2], shape[3], shape[4], shape[5], shape[6], shape[7]);
    int oh = h + 2 * padding - kernel + 1, ow = w + 2 * padding - kernel + 1;
    if (batch == 0 || c == 0 || oc == 0 || kernel == 0 || oh <= 0 || ow <= 0) throw new ArgumentException("the convolution has no output");
    if (threads == 0) throw new ArgumentException("THREADS must be at least 1");
    torch.set_num_threads(threads);
    torch.manual_seed(0);
    double flops = 2.0 * batch * oc * oh * ow * c * kernel * kernel;
    long[] strides = [1, 1], pads = [padding, padding];
    var best = new Dictionary<string, (double GFlops, string Layout)>();
    foreach (string layout in new[] { "NCHW", "channels_last" })
    {
        Tensor Shaped(Tensor t) => layout == "NCHW" ? t : ChannelsLast(t);
        using var x = Shaped(randn(batch, c, h, w));
        using var weight = Shaped(randn(oc, c, kernel, kernel));
        using var dy = Shaped(randn(batch, oc, oh, ow));
        using var xNeedsGrad = x.detach().requires_grad_(true);
        using var weightNeedsGrad = weight.detach().requires_grad_(true);
        using var ofInput = nn.functional.conv2d(xNeedsGrad, weight, null, strides, pads);           // a graph with dX only
        using var ofWeight = nn.functional.conv2d(x, weightNeedsGrad, null, strides, pads);          // and one with dW only
        var passes = new (string Name, Action Step)[]
        {
            ("forward", () => { using (no_grad()) nn.functional.conv2d(x, weight, null, strides, pads).Dispose(); }),
            ("backward-data", () => { foreach (var g in autograd.grad([ofInput], [xNeedsGrad], [dy], retain_graph: true)) g.Dispose(); }),
            ("backward-weights", () => { foreach (var g in autograd.grad([ofWeight], [weightNeedsGrad], [dy], retain_graph: true)) g.Dispose(); }),
        };
        foreach (var (name, step) in passes)
        {
            double gflops = flops / Timed(step, seconds) / 1e9;
            if (!best.TryGetValue(name, out var kept) || gflops > kept.GFlops) best[name] = (gflops, layout);
        }
    }
    foreach (var (name, (gflops, layout)) in best)
        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["pass"] = name, ["layout"] = layout, ["gflops"] = Math.Round(gflops, 2), ["torch"] = Version(), ["mkldnn"] = true,
        }));
    return 0;
}

static int Train(string configPath, int batch, int threads, string layout, double seconds)
{
    if (layout is not ("NCHW" or "channels_last")) throw new ArgumentException($"layout '{layout}' is neither NCHW nor channels_last");
    if (batch == 0) throw new ArgumentException("batch 0 has no step");
    if (threads == 0) throw new ArgumentException("THREADS must be at least 1");
    JsonElement config;
    try { config = JsonDocument.Parse(File.ReadAllText(configPath)).RootElement; }
    catch (Exception error) when (error is IOException or UnauthorizedAccessException or JsonException)
    {
        throw new ArgumentException($"{configPath}: {error.Message}");
    }
    torch.set_num_threads(threads);
    torch.manual_seed(0);
    if (!config.TryGetProperty("network", out var layers) || layers.ValueKind != JsonValueKind.Array)
        throw new ArgumentException($"{configPath}: no \"network\" list of layers");
    nn.Module<Tensor, Tensor> net;
    optim.Optimizer sgd;
    double smoothing;
    try
    {
        net = Recipe.Network(layers, configPath);
        double Get(string key, double fallback) => config.TryGetProperty(key, out var v) ? v.GetDouble() : fallback;
        bool nesterov = config.TryGetProperty("optimizer", out var optimizer) && optimizer.GetString() == "nesterov";
        sgd = optim.SGD(net.parameters().Where(p => p.requires_grad), Get("lr", 0.1), momentum: Get("momentum", 0.9), weight_decay: Get("weight_decay", 0), nesterov: nesterov);
        smoothing = Get("label_smoothing", 0);
    }
    catch (Exception error) when (error is KeyNotFoundException or InvalidOperationException or FormatException)
    {
        throw new ArgumentException($"{configPath}: a layer or setting is missing or of the wrong kind ({error.Message})");
    }
    net.train();
    using var images = layout == "NCHW" ? randn(batch, 3, 32, 32) : ChannelsLast(randn(batch, 3, 32, 32));
    using var labels = randint(0, 10, [batch], dtype: ScalarType.Int64);

    void Step()
    {
        using var scope = NewDisposeScope();
        sgd.zero_grad();
        var loss = nn.functional.cross_entropy(net.forward(images), labels, label_smoothing: smoothing);
        loss.backward();
        sgd.step();
    }

    for (int i = 0; i < 2; i++) Step();
    double best = double.MaxValue;
    var clock = Stopwatch.StartNew();
    while (clock.Elapsed.TotalSeconds < seconds || best == double.MaxValue)
    {
        var watch = Stopwatch.StartNew();
        Step();
        best = Math.Min(best, watch.Elapsed.TotalSeconds);
    }
    double peakMb = Process.GetCurrentProcess().PeakWorkingSet64 / (1024.0 * 1024.0);
    Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["images_per_s"] = Math.Round(batch / best, 2), ["peak_rss_mb"] = Math.Round(peakMb, 1), ["layout"] = layout, ["torch"] = Version(), ["mkldnn"] = true,
    }));
    return 0;
}

/// <summary>A recipe's network list as TorchSharp modules, as tools/interop/load_in_torch.py builds it in Python.</summary>
internal static class Recipe
{
    public static nn.Module<Tensor, Tensor> Network(JsonElement layers, string source)
    {
        var modules = new List<(string, nn.Module<Tensor, Tensor>)>();
        foreach (var layer in layers.EnumerateArray())
        {
            string type = layer.GetProperty("type").GetString() ?? "";
            if (type == "softmax") continue;   // the loss takes the logits
            modules.Add(($"{modules.Count}", Module(type, layer, source)));
        }
        return nn.Sequential(modules);
    }

    private static nn.Module<Tensor, Tensor> Module(string type, JsonElement layer, string source)
    {
        bool Flag(string key, bool fallback) => layer.TryGetProperty(key, out var v) ? v.GetBoolean() : fallback;
        (long, long) Pair(string key) => (layer.GetProperty(key)[0].GetInt64(), layer.GetProperty(key)[1].GetInt64());
        switch (type)
        {
            case "conv2d":
            {
                long input = layer.GetProperty("in_channels").GetInt64(), output = layer.GetProperty("out_channels").GetInt64();
                long groups = layer.TryGetProperty("groups", out var g) ? g.GetInt64() : 1;
                bool bias = Flag("bias", true);
                var conv = layer.GetProperty("padding").ValueKind == JsonValueKind.String
                    ? nn.Conv2d(input, output, Pair("kernel_size"), Padding.Same, stride: Pair("stride"), groups: groups, bias: bias)
                    : nn.Conv2d(input, output, Pair("kernel_size"), stride: Pair("stride"), padding: Pair("padding"), groups: groups, bias: bias);
                if (Flag("frozen_weight", false)) conv.weight!.requires_grad = false;
                return conv;
            }
            case "batchnorm2d":
            {
                var norm = nn.BatchNorm2d(layer.GetProperty("features").GetInt64(), eps: layer.GetProperty("eps").GetDouble(),
                    momentum: layer.GetProperty("momentum").GetDouble(), affine: Flag("affine", true));
                if (Flag("frozen_weight", false) && norm.weight is not null) norm.weight.requires_grad = false;
                return norm;
            }
            case "maxpool2d":
            {
                var (kh, kw) = Pair("kernel_size");
                var (sh, sw) = Pair("stride");
                var (ph, pw) = Pair("padding");
                return nn.MaxPool2d([kh, kw], [sh, sw], [ph, pw]);
            }
            case "gelu":   // an entry without "approximate" is the tanh form
                return nn.GELU(layer.TryGetProperty("approximate", out var a) && a.GetString() == "none" ? TorchSharp.Modules.GELU.Approximate.none : TorchSharp.Modules.GELU.Approximate.tanh);
            case "relu": return nn.ReLU();
            case "flatten": return nn.Flatten();
            case "linear": return nn.Linear(layer.GetProperty("in").GetInt64(), layer.GetProperty("out").GetInt64(), hasBias: Flag("bias", true));
            case "scale": return new Scale(layer.GetProperty("factor").GetDouble());
            default: throw new ArgumentException($"{source}: layer type '{type}' has no TorchSharp module in this peer");
        }
    }

    private sealed class Scale(double factor) : nn.Module<Tensor, Tensor>("Scale")
    {
        public override Tensor forward(Tensor x) => x.mul(factor);
    }
}
