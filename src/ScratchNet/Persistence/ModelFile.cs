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
/// i the Linear's index in the layer list as in PyTorch's <c>nn.Sequential</c>, and the architecture
/// in <c>__metadata__</c> (see README, "Saving and loading").
/// </summary>
internal static class ModelFile
{
    /// <summary>Writes <paramref name="network"/> to <paramref name="path"/> atomically.</summary>
    public static void Save<T>(Network<T> network, string path) where T : unmanaged, IFloatingPointIeee754<T>
    {
        network.Build();
        var dtype = typeof(T) == typeof(float) ? SafeTensorDType.F32 : SafeTensorDType.F64;
        var tensors = new List<(string, SafeTensorDType, long[], byte[])>();
        var layers = new List<Dictionary<string, object>>();
        for (int i = 0; i < network.Layers.Count; i++)
        {
            switch (network.Layers[i])
            {
                case Linear<T> linear:
                    layers.Add(new() { ["type"] = "linear", ["in"] = linear.InputSize, ["out"] = linear.OutputSize, ["regularized"] = linear.Weight.Regularized });
                    tensors.Add(($"{i}.weight", dtype, [linear.OutputSize, linear.InputSize], Bytes(linear.Weight.Value.Span, dtype)));
                    tensors.Add(($"{i}.bias", dtype, [linear.OutputSize], Bytes(linear.Bias.Value.Span, dtype)));
                    break;
                case LeakyRelu<T> leaky: layers.Add(new() { ["type"] = leaky.Kind, ["negative_slope"] = leaky.NegativeSlope }); break;
                case Relu<T> or Softmax<T> or Sigmoid<T> or Tanh<T> or Gelu<T>: layers.Add(new() { ["type"] = network.Layers[i].Kind }); break;
                case var other: throw new NotSupportedException($"Layer #{i} {other} has no model-file form.");
            }
        }
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
            ["layers"] = JsonSerializer.Serialize(layers),
        };
        AtomicFile.Write(path, stream => SafeTensors.Write(stream, tensors, metadata));
    }

    /// <summary>Reads a network back; F32 and F64 files both load into either element type (values converted, rounding to nearest).</summary>
    public static Network<T> Load<T>(string path) where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
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
            var (type, inSize, outSize, _, _) = layers[i];
            if (type != "linear") continue;
            if (inSize != width) throw SafeTensors.Error(path, $"layer {i} (linear) reads {inSize} features but follows a width of {width}");
            Expect($"{i}.weight", [outSize, inSize]);
            Expect($"{i}.bias", [outSize]);
            width = outSize;
        }
        if (width != outputs) throw SafeTensors.Error(path, $"the layers end with width {width}, but the network declares {outputs} outputs");
        foreach (var entry in header.Tensors)
            if (!expected.Contains(entry.Name)) throw SafeTensors.Error(path, $"tensor '{entry.Name}' belongs to no linear layer of the architecture");

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
        foreach (var (type, _, outSize, regularized, slope) in layers)
        {
            int index = network.Layers.Count;
            switch (type)
            {
                case "linear":
                    var weight = ReadTensor<T>(file, header, entries[$"{index}.weight"], outSize, width, path);
                    var bias = ReadTensor<T>(file, header, entries[$"{index}.bias"], 1, outSize, path);
                    network.Add(new Linear<T>(weight, bias, regularized));
                    width = outSize;
                    break;
                case "relu": network.AddRelu(); break;
                case "sigmoid": network.Add(new Sigmoid<T>(width)); break;
                case "tanh": network.Add(new Tanh<T>(width)); break;
                case "gelu": network.Add(new Gelu<T>(width)); break;
                case "leaky_relu": network.Add(new LeakyRelu<T>(width, slope)); break;
                default: network.AddSoftmax(); break;
            }
        }
        try { network.Build(); }
        catch (NetworkBuildException e) { throw SafeTensors.Error(path, $"the architecture does not build ({e.Message})", e); }
        return network;
    }

    private static List<(string Type, int In, int Out, bool Regularized, double Slope)> ParseLayers(string json, string path)
    {
        var result = new List<(string, int, int, bool, double)>();
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
                        result.Add(("linear", inSize, outSize, r.GetBoolean(), 0));
                        break;
                    case "leaky_relu":
                        if (!layer.TryGetProperty("negative_slope", out var s) || !s.TryGetDouble(out double slope) || !(slope >= 0 && slope < 1))
                            throw SafeTensors.Error(path, $"layer {result.Count} (leaky_relu) needs a 'negative_slope' in [0, 1)");
                        result.Add(("leaky_relu", 0, 0, false, slope));
                        break;
                    case "relu" or "softmax" or "sigmoid" or "tanh" or "gelu": result.Add((type.GetString()!, 0, 0, false, 0)); break;
                    case var other: throw SafeTensors.Error(path, $"layer {result.Count} has unknown type '{other}'");
                }
            }
        }
        catch (JsonException e) { throw SafeTensors.Error(path, $"__metadata__ 'layers' is not valid JSON ({e.Message})", e); }
        if (result.Count == 0) throw SafeTensors.Error(path, "__metadata__ 'layers' is empty");
        return result;
    }

    private static Tensor<T> ReadTensor<T>(FileStream file, SafeTensors.Header header, SafeTensorEntry entry, int rows, int cols, string path)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var bytes = new byte[entry.End - entry.Begin];   // within the file: ReadHeader checked the range
        file.Position = header.DataStart + entry.Begin;
        try { file.ReadExactly(bytes); }
        catch (EndOfStreamException e) { throw SafeTensors.Error(path, $"tensor '{entry.Name}' is cut short", e); }
        var tensor = new Tensor<T>(rows, cols);
        var span = tensor.Span;
        for (int k = 0; k < span.Length; k++)
            span[k] = entry.DType == SafeTensorDType.F32
                ? T.CreateChecked(BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(4 * k)))
                : T.CreateChecked(BinaryPrimitives.ReadDoubleLittleEndian(bytes.AsSpan(8 * k)));
        return tensor;
    }

    private static byte[] Bytes<T>(ReadOnlySpan<T> values, SafeTensorDType dtype) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int size = SafeTensors.ElementSize(dtype);
        var bytes = new byte[values.Length * size];
        for (int k = 0; k < values.Length; k++)
            if (dtype == SafeTensorDType.F32) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * k), float.CreateChecked(values[k]));
            else BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(8 * k), double.CreateChecked(values[k]));
        return bytes;
    }
}
