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
        ["format", "library", "library_version", "dtype", "inputs", "input_shape", "outputs", "loss", "regularization_factor", "learning_rate", "layers"]);

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
    public static (List<(string Name, SafeTensorDType DType, long[] Shape, byte[] Data)> Tensors, Dictionary<string, string> Metadata) Describe<T>(Network<T> network)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var dtype = DTypeOf<T>();
        var tensors = NamedTensors(network).Select(t => (t.Name, dtype, t.Shape, Bytes<T>(t.Tensor.Span, dtype))).ToList();
        return (tensors, Metadata(network));
    }

    /// <summary>The file's dtype for element type <typeparamref name="T"/>.</summary>
    public static SafeTensorDType DTypeOf<T>() => typeof(T) == typeof(float) ? SafeTensorDType.F32 : SafeTensorDType.F64;

    /// <summary>
    /// The network's live tensors under their state-dict names, with the shapes the file gives them, as they
    /// stand: a deferred SGD step (see <see cref="Network{T}.DeferSteps"/>) is not applied, which is what a
    /// checkpoint keeps; a model file's writer finishes such steps first.
    /// </summary>
    public static List<(string Name, Matrix<T> Tensor, long[] Shape)> NamedTensors<T>(Network<T> network) where T : unmanaged, IFloatingPointIeee754<T>
    {
        network.Build();
        return [.. ModuleState.Entries(network.Layers).Select(e => (e.Name, e.Value, e.Shape.ToLongArray()))];
    }

    /// <summary>The <c>__metadata__</c> of <paramref name="network"/>'s model file.</summary>
    public static Dictionary<string, string> Metadata<T>(Network<T> network) where T : unmanaged, IFloatingPointIeee754<T>
    {
        network.Build();
        var metadata = new Dictionary<string, string>
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
            ["layers"] = JsonSerializer.Serialize(LayerRegistry.Describe(network.Layers)),
        };
        // Image networks only: a flat network's file stays as earlier versions wrote it.
        if (network.InputShape.Rank > 1) metadata["input_shape"] = JsonSerializer.Serialize(network.InputShape.ToArray());
        return metadata;
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
        var inputShape = meta.ContainsKey("input_shape") ? InputShape(Meta("input_shape"), inputs, path) : new Shape(inputs);
        var network = new Network<T>(inputShape, outputs, loss, factor, rate);
        foreach (var layer in ReadLayers<T>(Meta("layers"), inputShape, header, path)) network.Add(layer);
        if (network.CurrentWidth != outputs) throw SafeTensors.Error(path, $"the layers end with width {network.CurrentWidth}, but the network declares {outputs} outputs");

        // Check every tensor against the architecture's state before reading any of them.
        var entries = header.Tensors.ToDictionary(t => t.Name);
        var state = ModuleState.Entries(network.Layers);
        foreach (var expected in state)
        {
            if (!entries.TryGetValue(expected.Name, out var entry)) throw SafeTensors.Error(path, $"tensor '{expected.Name}' is missing");
            if (!entry.Shape.SequenceEqual(expected.Shape.ToLongArray()))
                throw SafeTensors.Error(path, $"tensor '{expected.Name}' has shape [{string.Join(", ", entry.Shape)}], but the architecture needs [{string.Join(", ", expected.Shape)}]");
            if (entry.DType != fileDType) throw SafeTensors.Error(path, $"tensor '{expected.Name}' has dtype {entry.DType}, but __metadata__ says {Meta("dtype")}");
        }
        var names = state.Select(e => e.Name).ToHashSet();
        foreach (var entry in header.Tensors)
            if (!names.Contains(entry.Name)) throw SafeTensors.Error(path, $"tensor '{entry.Name}' belongs to no layer of the architecture");

        foreach (var expected in state)
            ReadTensor<T>(file, header, entries[expected.Name], expected.Value.Rows, expected.Value.Cols, path).Span.CopyTo(expected.Value.Span);
        try { network.Build(); }
        catch (NetworkBuildException e) { throw SafeTensors.Error(path, $"the architecture does not build ({e.Message})", e); }
        return network;
    }

    // The layers __metadata__ 'layers' describes, built through the registry; their state may take little more
    // than the file's tensors hold, so a lying entry fails before anything large is allocated (the slack lets a
    // small file with a tensor missing get to the message that says so).
    private static List<Layer<T>> ReadLayers<T>(string json, Shape inputs, SafeTensors.Header header, string path) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long budget = header.Tensors.Sum(t => t.Count) + (1L << 24);
        try
        {
            using var document = JsonDocument.Parse(json);
            return LayerSettings.ReadChain<T>(document.RootElement, inputs, "__metadata__ 'layers'", what => SafeTensors.Error(path, what), budget);
        }
        catch (JsonException e) { throw SafeTensors.Error(path, $"__metadata__ 'layers' is not valid JSON ({e.Message})", e); }
        catch (NetworkBuildException e) { throw SafeTensors.Error(path, $"the architecture does not build ({e.Message})", e); }
    }

    // __metadata__ 'input_shape': a JSON array of positive dimensions whose product is 'inputs'.
    private static Shape InputShape(string json, int inputs, string path)
    {
        string fault = $"__metadata__ 'input_shape' = '{json}' is not a list of positive dimensions whose product is 'inputs' ({inputs})";
        try
        {
            var dimensions = JsonSerializer.Deserialize<int[]>(json);
            if (dimensions is null || dimensions.Length is 0 or > 8 || dimensions.Any(d => d <= 0)) throw SafeTensors.Error(path, fault);
            long size = 1;
            foreach (int d in dimensions) size *= d;
            return size == inputs ? new Shape(dimensions) : throw SafeTensors.Error(path, fault);
        }
        catch (JsonException e) { throw SafeTensors.Error(path, fault, e); }
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
