using System.Numerics;
using System.Text.Json;
using ScratchNet.Persistence;

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
    private readonly HeaderFields _fields;   // the entry through the one typed reader every header field goes through
    private readonly Func<string, Exception> _error;
    private readonly Budget _budget;

    private LayerSettings(JsonElement entry, string kind, Shape input, string path, Func<string, Exception> error, Budget budget)
    {
        _entry = entry;
        _fields = HeaderFields.Root(entry, $"layer {path} ({kind})", error);
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
        string type = HeaderFields.Root(entry, $"layer {path}", error)["type"].String();
        var settings = new LayerSettings(entry, type, input, path, error, budget);
        var layer = LayerRegistry.Read<T>(settings);
        if (layer.InputShape != input)
            throw settings.Fault($"reads samples of shape {layer.InputShape} but follows shape {input}");
        return layer;
    }

    /// <summary>The error for a fault of this layer's settings: "layer {path} ({type}) {message}".</summary>
    public Exception Fault(string message) => _error($"layer {Path} ({Kind}) {message}");

    /// <summary>The positive integer under <paramref name="key"/>.</summary>
    public int PositiveInt(string key) => _fields[key].Int(1);

    /// <summary>The integer under <paramref name="key"/>, in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public int Int(string key, int min, int max) => _fields[key].Int(min, max);

    /// <summary>The <paramref name="length"/> integers of the array under <paramref name="key"/>, each in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public int[] Ints(string key, int length, int min, int max) => [.. _fields[key].Longs(min, max, length).Select(v => (int)v)];

    /// <summary>The string under <paramref name="key"/>, one of <paramref name="choices"/> when any are given.</summary>
    public string String(string key, params string[] choices) => _fields[key].String(choices);

    /// <summary><see cref="String"/>, or <paramref name="fallback"/> when the entry has no <paramref name="key"/>.</summary>
    public string OptionalString(string key, string fallback, params string[] choices) => _fields[key].Exists ? String(key, choices) : fallback;

    /// <summary>Whether the value under <paramref name="key"/> is a JSON string (for a setting that is a word or numbers, e.g. padding "same").</summary>
    public bool IsString(string key) => _fields[key].Element.ValueKind == JsonValueKind.String;

    /// <summary>The boolean under <paramref name="key"/>.</summary>
    public bool Bool(string key) => _fields[key].Bool();

    /// <summary>As <see cref="Bool(string)"/>, or <paramref name="fallback"/> when the entry has no <paramref name="key"/> (a setting added later).</summary>
    public bool Bool(string key, bool fallback) => _fields[key].Exists ? Bool(key) : fallback;

    /// <summary>The finite number under <paramref name="key"/>, in [<paramref name="min"/>, <paramref name="max"/>] (ends excluded as flagged).</summary>
    public double Number(string key, double min, double max, bool minExclusive = false, bool maxExclusive = false) =>
        _fields[key].Double(min, max, minExclusive, maxExclusive);

    /// <summary>As <see cref="Number(string, double, double, bool, bool)"/>, or <paramref name="fallback"/> when the entry has no <paramref name="key"/>.</summary>
    public double Number(string key, double fallback, double min, double max, bool minExclusive = false, bool maxExclusive = false) =>
        _fields[key].Exists ? Number(key, min, max, minExclusive, maxExclusive) : fallback;

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
