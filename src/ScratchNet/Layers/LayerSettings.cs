using System.Numerics;
using System.Text.Json;

namespace ScratchNet.Layers;

/// <summary>
/// One layer's saved settings (an entry of a model file's <c>layers</c>, or of a run configuration's
/// architecture) with the input shape the layer follows: what <see cref="LayerRegistry.Read{T}"/> hands a
/// layer type's reader. Every getter checks the value's JSON type and range, and a fault becomes one
/// error naming the source, the layer's path and type, and what was wrong.
/// </summary>
public sealed class LayerSettings
{
    private readonly JsonElement _entry;
    private readonly Func<string, Exception> _error;
    private readonly Budget _budget;

    private LayerSettings(JsonElement entry, string kind, Shape input, string path, Func<string, Exception> error, Budget budget)
    {
        _entry = entry;
        Kind = kind;
        Input = input;
        Path = path;
        _error = error;
        _budget = budget;
    }

    /// <summary>The layer's type name, its entry's "type".</summary>
    public string Kind { get; }

    /// <summary>The per-sample shape the layer reads: the previous layer's output, or the network's input.</summary>
    public Shape Input { get; }

    /// <summary>Where the layer sits, e.g. "3" or "3.body.0", for messages.</summary>
    public string Path { get; }

    /// <summary>
    /// Rebuilds the chain of layers an array of settings entries describes, each reading the shape the one
    /// before writes. <paramref name="error"/> turns a message into the source's exception (e.g. naming the
    /// file); <paramref name="elementBudget"/> caps the elements the layers' state may take (a file cannot
    /// hold more than it has bytes for), checked before anything large is allocated.
    /// </summary>
    /// <param name="array">The entries.</param>
    /// <param name="input">The shape the first layer reads.</param>
    /// <param name="what">Names the array in messages, e.g. "__metadata__ 'layers'".</param>
    /// <param name="error">Turns a message into the exception to throw.</param>
    /// <param name="elementBudget">The most state elements the layers may take.</param>
    public static List<Layer<T>> ReadChain<T>(JsonElement array, Shape input, string what, Func<string, Exception> error, long elementBudget = long.MaxValue)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        ReadChain<T>(array, input, "", what, error, new Budget(elementBudget));

    private static List<Layer<T>> ReadChain<T>(JsonElement array, Shape input, string prefix, string what, Func<string, Exception> error, Budget budget)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (array.ValueKind != JsonValueKind.Array) throw error($"{what} is not a JSON array");
        var layers = new List<Layer<T>>();
        var shape = input;
        foreach (var entry in array.EnumerateArray())
        {
            var layer = ReadOne<T>(entry, shape, prefix + layers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), error, budget);
            layers.Add(layer);
            shape = layer.OutputShape;
        }
        if (layers.Count == 0) throw error($"{what} is empty");
        return layers;
    }

    private static Layer<T> ReadOne<T>(JsonElement entry, Shape input, string path, Func<string, Exception> error, Budget budget)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (entry.ValueKind != JsonValueKind.Object || !entry.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            throw error($"layer {path} has no type");
        var settings = new LayerSettings(entry, type.GetString()!, input, path, error, budget);
        var layer = LayerRegistry.Read<T>(settings);
        if (layer.InputShape != input)
            throw settings.Fault($"reads samples of shape {layer.InputShape} but follows shape {input}");
        return layer;
    }

    /// <summary>The error for a fault of this layer's settings: "layer {path} ({type}) {message}".</summary>
    public Exception Fault(string message) => _error($"layer {Path} ({Kind}) {message}");

    /// <summary>The positive integer under <paramref name="key"/>.</summary>
    public int PositiveInt(string key) =>
        _entry.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int n) && n > 0
            ? n : throw Fault($"needs a positive integer '{key}'");

    /// <summary>The boolean under <paramref name="key"/>.</summary>
    public bool Bool(string key) =>
        _entry.TryGetProperty(key, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? v.GetBoolean() : throw Fault($"needs a boolean '{key}'");

    /// <summary>The number under <paramref name="key"/>, which <paramref name="valid"/> must accept; <paramref name="range"/> describes the valid values for the message.</summary>
    public double Number(string key, Func<double, bool> valid, string range) =>
        _entry.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double x) && double.IsFinite(x) && valid(x)
            ? x : throw Fault($"needs a '{key}' {range}");

    /// <summary>The number under <paramref name="key"/>, or <paramref name="fallback"/> when the entry has none; see <see cref="Number(string, Func{double, bool}, string)"/>.</summary>
    public double Number(string key, double fallback, Func<double, bool> valid, string range) =>
        _entry.TryGetProperty(key, out _) ? Number(key, valid, range) : fallback;

    /// <summary>Checks that the entry's own record of its input width, <paramref name="declared"/>, is the width it follows.</summary>
    public void RequireInputSize(int declared)
    {
        if (declared != Input.Size) throw Fault($"reads {declared} features but follows a width of {Input.Size}");
    }

    /// <summary>
    /// Counts <paramref name="elements"/> of state the layer is about to allocate against the source's budget:
    /// a layer type with parameters calls it before building them.
    /// </summary>
    public void Reserve(long elements)
    {
        _budget.Used += elements;
        if (elements < 0 || _budget.Used > _budget.Limit)
            throw Fault($"needs {elements} state elements, more than the {_budget.Limit} the source holds");
    }

    /// <summary>The layer that the settings object under <paramref name="key"/> describes, reading <paramref name="input"/>.</summary>
    public Layer<T> Child<T>(string key, Shape input) where T : unmanaged, IFloatingPointIeee754<T> =>
        _entry.TryGetProperty(key, out var v) ? ReadOne<T>(v, input, $"{Path}.{key}", _error, _budget) : throw Fault($"needs a layer '{key}'");

    /// <summary>The child under <paramref name="key"/> if the entry has one, else null.</summary>
    public Layer<T>? OptionalChild<T>(string key, Shape input) where T : unmanaged, IFloatingPointIeee754<T> =>
        _entry.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null ? ReadOne<T>(v, input, $"{Path}.{key}", _error, _budget) : null;

    /// <summary>The chain of layers the array under <paramref name="key"/> describes, the first reading <see cref="Input"/>.</summary>
    public List<Layer<T>> Chain<T>(string key) where T : unmanaged, IFloatingPointIeee754<T> =>
        _entry.TryGetProperty(key, out var v)
            ? ReadChain<T>(v, Input, $"{Path}.", $"layer {Path} ({Kind}) '{key}'", _error, _budget)
            : throw Fault($"needs a list of layers '{key}'");

    private sealed class Budget(long limit)
    {
        public long Limit { get; } = limit;

        public long Used { get; set; }
    }
}
