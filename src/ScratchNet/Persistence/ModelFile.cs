using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Reflection;
using System.Text.Json;
using ScratchNet.Layers;
using ScratchNet.Losses;
using ScratchNet.Optimizers;

namespace ScratchNet.Persistence;

/// <summary>
/// A network as a safetensors file: the weights as <c>{i}.weight</c> (out, in) and <c>{i}.bias</c> (out),
/// i the Linear's index in the layer list as in PyTorch's <c>nn.Sequential</c>; a BatchNorm1d's as
/// <c>{i}.weight</c>, <c>{i}.bias</c>, <c>{i}.running_mean</c>, <c>{i}.running_var</c> (features); and the
/// architecture in <c>__metadata__</c> (see README, "Saving and loading").
/// </summary>
internal static class ModelFile
{
    /// <summary>The <c>__metadata__</c> keys this format owns; <c>Save</c> refuses extra entries that reuse them.</summary>
    public static readonly IReadOnlySet<string> ReservedKeys = new HashSet<string>(
        ["format", "library", "library_version", "dtype", "inputs", "outputs", "loss", "regularization_factor", "learning_rate", "layers"]);

    /// <summary>Writes <paramref name="network"/> to <paramref name="path"/> atomically, with <paramref name="extraMetadata"/>
    /// (e.g. the dataset it was trained on) added to <c>__metadata__</c>.</summary>
    /// <exception cref="ArgumentException">An extra key is one of <see cref="ReservedKeys"/>.</exception>
    public static void Save<T>(Network<T> network, string path, IReadOnlyDictionary<string, string>? extraMetadata = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (string key in extraMetadata?.Keys ?? [])
            if (ReservedKeys.Contains(key)) throw new ArgumentException($"The model-file metadata key '{key}' is reserved for the architecture.", nameof(extraMetadata));
        var (tensors, metadata) = Describe(network);
        foreach (var (key, value) in extraMetadata ?? new Dictionary<string, string>()) metadata[key] = value;
        AtomicFile.Write(path, stream => SafeTensors.Write(stream, tensors, metadata));
    }

    /// <summary>The safetensors entries (name, dtype, shape, bytes) and <c>__metadata__</c> of <paramref name="network"/>'s model file.</summary>
    public static (List<(string Name, SafeTensorDType DType, long[] Shape, byte[] Data)> Tensors, Dictionary<string, string> Metadata) Describe<T>(Network<T> network, bool raw = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var dtype = DTypeOf<T>();
        var tensors = NamedTensors(network, raw).Select(t => (t.Name, dtype, t.Shape, Bytes<T>(t.Tensor.Span, dtype))).ToList();
        return (tensors, Metadata(network));
    }

    /// <summary>The file's dtype for element type <typeparamref name="T"/>.</summary>
    public static SafeTensorDType DTypeOf<T>() => typeof(T) == typeof(float) ? SafeTensorDType.F32 : SafeTensorDType.F64;

    /// <summary>
    /// The network's live tensors under their state-dict names, with the shapes the file gives them. With
    /// <paramref name="raw"/>, a Linear's weight is its storage as it stands, a deferred SGD step not applied
    /// (see <see cref="Linear{T}.PendingStep"/>); else the value with every step applied.
    /// </summary>
    public static List<(string Name, Matrix<T> Tensor, long[] Shape)> NamedTensors<T>(Network<T> network, bool raw = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        network.Build();
        var tensors = new List<(string, Matrix<T>, long[])>();
        for (int i = 0; i < network.Layers.Count; i++)
        {
            switch (network.Layers[i])
            {
                case Linear<T> linear:
                    tensors.Add(($"{i}.weight", raw ? linear.Weight.Storage : linear.Weight.Value, [linear.OutputSize, linear.InputSize]));
                    tensors.Add(($"{i}.bias", linear.Bias.Value, [linear.OutputSize]));
                    break;
                case BatchNorm1d<T> norm:
                    tensors.Add(($"{i}.weight", norm.Weight.Value, [norm.InputSize]));
                    tensors.Add(($"{i}.bias", norm.Bias.Value, [norm.InputSize]));
                    tensors.Add(($"{i}.running_mean", norm.RunningMean, [norm.InputSize]));
                    tensors.Add(($"{i}.running_var", norm.RunningVariance, [norm.InputSize]));
                    break;
            }
        }
        return tensors;
    }

    /// <summary>The <c>__metadata__</c> of <paramref name="network"/>'s model file.</summary>
    /// <exception cref="NotSupportedException">A layer type the file format does not cover.</exception>
    public static Dictionary<string, string> Metadata<T>(Network<T> network) where T : unmanaged, IFloatingPointIeee754<T>
    {
        network.Build();
        var layers = new List<Dictionary<string, object>>();
        for (int i = 0; i < network.Layers.Count; i++)
        {
            switch (network.Layers[i])
            {
                case Linear<T> linear:
                    layers.Add(new() { ["type"] = "linear", ["in"] = linear.InputSize, ["out"] = linear.OutputSize, ["regularized"] = linear.Weight.Regularized });
                    break;
                case BatchNorm1d<T> norm:
                    layers.Add(new() { ["type"] = norm.Kind, ["features"] = norm.InputSize, ["momentum"] = norm.Momentum, ["eps"] = norm.Epsilon });
                    break;
                case Dropout<T> dropout: layers.Add(new() { ["type"] = dropout.Kind, ["rate"] = dropout.Rate }); break;
                case LeakyRelu<T> leaky: layers.Add(new() { ["type"] = leaky.Kind, ["negative_slope"] = leaky.NegativeSlope }); break;
                case Relu<T> or Softmax<T> or Sigmoid<T> or Tanh<T> or Gelu<T>: layers.Add(new() { ["type"] = network.Layers[i].Kind }); break;
                case var other: throw new NotSupportedException($"Layer #{i} {other} has no model-file form.");
            }
        }
        return new Dictionary<string, string>
        {
            ["format"] = "pt",
            ["library"] = "ScratchNet",
            ["library_version"] = typeof(ModelFile).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown",
            ["dtype"] = typeof(T) == typeof(float) ? "float32" : "float64",
            ["inputs"] = network.Inputs.ToString(CultureInfo.InvariantCulture),
            ["outputs"] = network.Outputs.ToString(CultureInfo.InvariantCulture),
            ["loss"] = network.Loss == Loss.L2 ? "l2" : "ce",
            ["regularization_factor"] = network.RegularizationFactor.ToString("R", CultureInfo.InvariantCulture),
            ["learning_rate"] = network.LearningRate.ToString("R", CultureInfo.InvariantCulture),
            ["layers"] = JsonSerializer.Serialize(layers),
        };
    }

    /// <summary>The file's <c>__metadata__</c>, header checked as by <see cref="Load{T}(string)"/> but no tensor read.</summary>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        return SafeTensors.ReadHeader(file, path).Metadata;
    }

    /// <summary>Writes <paramref name="network"/> to <paramref name="stream"/> from its current position (the stream is left open).</summary>
    public static void Save<T>(Network<T> network, Stream stream) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (tensors, metadata) = Describe(network);
        SafeTensors.Write(stream, tensors, metadata);
    }

    /// <summary>Reads a network back; F32 and F64 files both load into either element type (values converted, rounding to nearest).</summary>
    public static Network<T> Load<T>(string path) where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        return Load<T>(file, path);
    }

    /// <summary>
    /// As <see cref="Load{T}(string)"/>, from a stream holding one model file from its start; <paramref name="path"/> names it in errors.
    /// A stream that cannot seek is read into memory first (the format's header points into the data).
    /// </summary>
    public static Network<T> Load<T>(Stream stream, string path) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!stream.CanSeek)
        {
            var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            buffer.Position = 0;
            stream = buffer;
        }
        else if (stream.Position != 0)
        {
            throw new ArgumentException("The stream must be at the start of the model file (position 0).", nameof(stream));
        }
        var file = stream;
        var header = SafeTensors.ReadHeader(file, path);
        var meta = header.Metadata;
        string Meta(string key) => meta.TryGetValue(key, out var v) ? v : throw SafeTensors.Error(path, $"__metadata__ has no '{key}'");
        int PositiveInt(string key) =>
            int.TryParse(Meta(key), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0 ? n : throw SafeTensors.Error(path, $"__metadata__ '{key}' = '{Meta(key)}' is not a positive integer");
        double Number(string key, bool positive) =>
            double.TryParse(Meta(key), NumberStyles.Float, CultureInfo.InvariantCulture, out double x) && double.IsFinite(x) && (positive ? x > 0 : x >= 0)
                ? x : throw SafeTensors.Error(path, $"__metadata__ '{key}' = '{Meta(key)}' is not a {(positive ? "positive" : "non-negative")} number");

        int inputs = PositiveInt("inputs"), outputs = PositiveInt("outputs");
        Loss loss = Meta("loss") switch
        {
            "l2" => Loss.L2,
            "ce" => Loss.CrossEntropy,
            var other => throw SafeTensors.Error(path, $"__metadata__ 'loss' = '{other}' is neither 'l2' nor 'ce'"),
        };
        double factor = Number("regularization_factor", positive: false), rate = Number("learning_rate", positive: true);
        var fileDType = Meta("dtype") switch
        {
            "float32" => SafeTensorDType.F32,
            "float64" => SafeTensorDType.F64,
            var other => throw SafeTensors.Error(path, $"__metadata__ 'dtype' = '{other}' is neither 'float32' nor 'float64'"),
        };
        var layers = ParseLayers(Meta("layers"), path);

        // Check every tensor against the architecture before reading (or allocating) any of them.
        var entries = header.Tensors.ToDictionary(t => t.Name);
        var expected = new HashSet<string>();
        int width = inputs;
        for (int i = 0; i < layers.Count; i++)
        {
            var layer = layers[i];
            if (layer.Type is not ("linear" or "batchnorm1d")) continue;
            if (layer.In != width) throw SafeTensors.Error(path, $"layer {i} ({layer.Type}) reads {layer.In} features but follows a width of {width}");
            if (layer.Type == "linear")
            {
                Expect($"{i}.weight", [layer.Out, layer.In]);
                Expect($"{i}.bias", [layer.Out]);
            }
            else
            {
                foreach (string name in BatchNormTensors) Expect($"{i}.{name}", [layer.In]);
            }
            width = layer.Out;
        }
        if (width != outputs) throw SafeTensors.Error(path, $"the layers end with width {width}, but the network declares {outputs} outputs");
        foreach (var entry in header.Tensors)
            if (!expected.Contains(entry.Name)) throw SafeTensors.Error(path, $"tensor '{entry.Name}' belongs to no layer of the architecture");

        void Expect(string name, long[] shape)
        {
            if (!entries.TryGetValue(name, out var entry)) throw SafeTensors.Error(path, $"tensor '{name}' is missing");
            if (!entry.Shape.SequenceEqual(shape))
                throw SafeTensors.Error(path, $"tensor '{name}' has shape [{string.Join(", ", entry.Shape)}], but the architecture needs [{string.Join(", ", shape)}]");
            if (entry.DType != fileDType) throw SafeTensors.Error(path, $"tensor '{name}' has dtype {entry.DType}, but __metadata__ says {Meta("dtype")}");
            expected.Add(name);
        }

        var network = new Network<T>(inputs, outputs, loss, factor, rate);
        width = inputs;
        foreach (var layer in layers)
        {
            int index = network.Layers.Count;
            switch (layer.Type)
            {
                case "linear":
                    var weight = ReadTensor<T>(file, header, entries[$"{index}.weight"], layer.Out, width, path);
                    var bias = ReadTensor<T>(file, header, entries[$"{index}.bias"], 1, layer.Out, path);
                    network.Add(new Linear<T>(weight, bias, layer.Regularized));
                    width = layer.Out;
                    break;
                case "batchnorm1d":
                    var norm = network.Add(new BatchNorm1d<T>(width, layer.Momentum, layer.Epsilon));
                    Matrix<T>[] targets = [norm.Weight.Value, norm.Bias.Value, norm.RunningMean, norm.RunningVariance];
                    for (int k = 0; k < targets.Length; k++)
                        ReadTensor<T>(file, header, entries[$"{index}.{BatchNormTensors[k]}"], 1, width, path).Span.CopyTo(targets[k].Span);
                    break;
                case "dropout": network.Add(new Dropout<T>(width, layer.Rate)); break;
                case "relu": network.AddRelu(); break;
                case "sigmoid": network.Add(new Sigmoid<T>(width)); break;
                case "tanh": network.Add(new Tanh<T>(width)); break;
                case "gelu": network.Add(new Gelu<T>(width)); break;
                case "leaky_relu": network.Add(new LeakyRelu<T>(width, layer.Slope)); break;
                default: network.AddSoftmax(); break;
            }
        }
        try { network.Build(); }
        catch (NetworkBuildException e) { throw SafeTensors.Error(path, $"the architecture does not build ({e.Message})", e); }
        return network;
    }

    // A batchnorm1d layer's tensors, "{i}.{name}", each (features): PyTorch's state-dict names.
    private static readonly string[] BatchNormTensors = ["weight", "bias", "running_mean", "running_var"];

    // One entry of __metadata__ 'layers'; fields a type does not use stay at their defaults.
    private sealed record LayerSpec(string Type, int In = 0, int Out = 0, bool Regularized = false,
        double Slope = 0, double Rate = 0, double Momentum = 0, double Epsilon = 0);

    private static List<LayerSpec> ParseLayers(string json, string path)
    {
        var result = new List<LayerSpec>();
        try
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != JsonValueKind.Array) throw SafeTensors.Error(path, "__metadata__ 'layers' is not a JSON array");
            foreach (var layer in document.RootElement.EnumerateArray())
            {
                if (layer.ValueKind != JsonValueKind.Object || !layer.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
                    throw SafeTensors.Error(path, $"layer {result.Count} in __metadata__ 'layers' has no type");
                switch (type.GetString())
                {
                    case "linear":
                        if (!layer.TryGetProperty("in", out var i) || !i.TryGetInt32(out int inSize) || inSize <= 0
                            || !layer.TryGetProperty("out", out var o) || !o.TryGetInt32(out int outSize) || outSize <= 0
                            || !layer.TryGetProperty("regularized", out var r) || r.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                            throw SafeTensors.Error(path, $"layer {result.Count} (linear) needs positive integers 'in', 'out' and a boolean 'regularized'");
                        result.Add(new("linear", inSize, outSize, r.GetBoolean()));
                        break;
                    case "leaky_relu":
                        if (!layer.TryGetProperty("negative_slope", out var s) || !s.TryGetDouble(out double slope) || !(slope >= 0 && slope < 1))
                            throw SafeTensors.Error(path, $"layer {result.Count} (leaky_relu) needs a 'negative_slope' in [0, 1)");
                        result.Add(new("leaky_relu", Slope: slope));
                        break;
                    case "dropout":
                        if (!layer.TryGetProperty("rate", out var p) || !p.TryGetDouble(out double rate) || !(rate >= 0 && rate < 1))
                            throw SafeTensors.Error(path, $"layer {result.Count} (dropout) needs a 'rate' in [0, 1)");
                        result.Add(new("dropout", Rate: rate));
                        break;
                    case "batchnorm1d":
                        if (!layer.TryGetProperty("features", out var f) || !f.TryGetInt32(out int features) || features <= 0
                            || !layer.TryGetProperty("momentum", out var m) || !m.TryGetDouble(out double momentum) || !(momentum >= 0 && momentum <= 1)
                            || !layer.TryGetProperty("eps", out var e) || !e.TryGetDouble(out double eps) || !(eps > 0 && double.IsFinite(eps)))
                            throw SafeTensors.Error(path, $"layer {result.Count} (batchnorm1d) needs a positive integer 'features', a 'momentum' in [0, 1] and a positive 'eps'");
                        result.Add(new("batchnorm1d", features, features, Momentum: momentum, Epsilon: eps));
                        break;
                    case "relu" or "softmax" or "sigmoid" or "tanh" or "gelu": result.Add(new(type.GetString()!)); break;
                    case var other: throw SafeTensors.Error(path, $"layer {result.Count} has unknown type '{other}'");
                }
            }
        }
        catch (JsonException e) { throw SafeTensors.Error(path, $"__metadata__ 'layers' is not valid JSON ({e.Message})", e); }
        if (result.Count == 0) throw SafeTensors.Error(path, "__metadata__ 'layers' is empty");
        return result;
    }

    internal static Matrix<T> ReadTensor<T>(Stream file, SafeTensors.Header header, SafeTensorEntry entry, int rows, int cols, string path)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var bytes = new byte[entry.End - entry.Begin];   // within the file: ReadHeader checked the range
        file.Position = header.DataStart + entry.Begin;
        try { file.ReadExactly(bytes); }
        catch (EndOfStreamException e) { throw SafeTensors.Error(path, $"tensor '{entry.Name}' is cut short", e); }
        var tensor = new Matrix<T>(rows, cols);
        var span = tensor.Span;
        for (int k = 0; k < span.Length; k++)
            span[k] = entry.DType == SafeTensorDType.F32
                ? T.CreateChecked(BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(4 * k)))
                : T.CreateChecked(BinaryPrimitives.ReadDoubleLittleEndian(bytes.AsSpan(8 * k)));
        return tensor;
    }

    internal static byte[] Bytes<T>(ReadOnlySpan<T> values, SafeTensorDType dtype) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int size = SafeTensors.ElementSize(dtype);
        var bytes = new byte[values.Length * size];
        for (int k = 0; k < values.Length; k++)
            if (dtype == SafeTensorDType.F32) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * k), float.CreateChecked(values[k]));
            else BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(8 * k), double.CreateChecked(values[k]));
        return bytes;
    }
}
