using System.Globalization;
using System.Text.Json;

namespace ScratchNet.Persistence;

/// <summary>
/// A JSON value read out of a file header (a safetensors header, a model's <c>layers</c>, a checkpoint's
/// state), with typed, range-checked accessors. Every fault, a missing key, a value of the wrong JSON type
/// or one out of range, ends in the exception <see cref="Error"/> makes, with one message format:
/// <c>{scope}: '{key}' is {what it is}; expected {what it must be}</c>, so that the caller's factory adds
/// the file. Nothing here throws <see cref="InvalidOperationException"/> the way <see cref="JsonElement"/>'s
/// own getters do on a value of another kind.
/// </summary>
/// <param name="Element">The value; <see cref="JsonValueKind.Undefined"/> for a key that is missing.</param>
/// <param name="Scope">What the value belongs to, e.g. "tensor '0.weight'" or "the 'checkpoint' metadata".</param>
/// <param name="Key">Its key below the scope, e.g. "shape[0]" or "optimizer.learning_rate"; empty for the scope itself.</param>
/// <param name="Error">Makes the exception for a message (it names the file).</param>
internal readonly record struct HeaderFields(JsonElement Element, string Scope, string Key, Func<string, Exception> Error)
{
    /// <summary>The root of a header object; refuses anything but a JSON object.</summary>
    public static HeaderFields Root(JsonElement element, string scope, Func<string, Exception> error) =>
        new HeaderFields(element, scope, "", error).Object();

    /// <summary>The value under <paramref name="key"/> of this object (its accessors then report a missing key).</summary>
    public HeaderFields this[string key]
    {
        get
        {
            var self = Object();
            var value = self.Element.TryGetProperty(key, out var found) ? found : default;
            return new HeaderFields(value, Scope, Key.Length == 0 ? key : $"{Key}.{key}", Error);
        }
    }

    /// <summary>Whether the key is present (an optional field).</summary>
    public bool Exists => Element.ValueKind != JsonValueKind.Undefined;

    /// <summary>This value, which must be a JSON object.</summary>
    public HeaderFields Object() => Element.ValueKind == JsonValueKind.Object ? this : throw Fault("an object");

    /// <summary>The entries of this array, each readable with the same accessors; <paramref name="length"/> when given is required.</summary>
    public HeaderFields[] Items(int? length = null)
    {
        if (Element.ValueKind != JsonValueKind.Array) throw Fault(length is { } n ? $"an array of {n}" : "an array");
        int count = Element.GetArrayLength();
        if (length is { } required && count != required) throw Fault($"an array of {required}", $"an array of {count}");
        var items = new HeaderFields[count];
        int i = 0;
        foreach (var item in Element.EnumerateArray())
        {
            items[i] = new HeaderFields(item, Scope, $"{Key}[{i}]", Error);
            i++;
        }
        return items;
    }

    /// <summary>The properties of this object, in file order.</summary>
    public IEnumerable<(string Name, HeaderFields Value)> Properties()
    {
        foreach (var property in Object().Element.EnumerateObject())
            yield return (property.Name, new HeaderFields(property.Value, Scope, Key.Length == 0 ? property.Name : $"{Key}.{property.Name}", Error));
    }

    /// <summary>A JSON integer in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public int Int(int min = int.MinValue, int max = int.MaxValue) => (int)Long(min, max);

    /// <summary>A JSON integer in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public long Long(long min = long.MinValue, long max = long.MaxValue)
    {
        string expected = Range("an integer", min, max, long.MinValue, long.MaxValue);
        if (Element.ValueKind != JsonValueKind.Number || !Element.TryGetInt64(out long value) || value < min || value > max) throw Fault(expected);
        return value;
    }

    /// <summary>A JSON integer in [0, 2⁶⁴).</summary>
    public ulong ULong() =>
        Element.ValueKind == JsonValueKind.Number && Element.TryGetUInt64(out ulong value) ? value : throw Fault("an integer in [0, 2^64)");

    /// <summary>A finite JSON number in the interval given (bounds inclusive unless said otherwise).</summary>
    public double Double(double min = double.MinValue, double max = double.MaxValue, bool minExclusive = false, bool maxExclusive = false)
    {
        string expected = Interval("a finite number", min, max, minExclusive, maxExclusive);
        if (Element.ValueKind != JsonValueKind.Number || !Element.TryGetDouble(out double value) || !double.IsFinite(value)
            || value < min || value > max || (minExclusive && value == min) || (maxExclusive && value == max))
            throw Fault(expected);
        return value;
    }

    /// <summary>A number written as a round-trip string ("0.1", "NaN", "Infinity"): how checkpoints keep values JSON numbers cannot hold.</summary>
    public double NumberText()
    {
        const string expected = "a number as a string (e.g. \"0.1\" or \"NaN\")";
        if (Element.ValueKind != JsonValueKind.String
            || !double.TryParse(Element.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
            throw Fault(expected);
        return value;
    }

    /// <summary>A JSON true or false.</summary>
    public bool Bool() => Element.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw Fault("true or false"),
    };

    /// <summary>A JSON string; one of <paramref name="choices"/> when any are given.</summary>
    public string String(params string[] choices)
    {
        string expected = choices.Length == 0 ? "a string" : $"one of {string.Join(", ", choices.Select(c => $"\"{c}\""))}";
        if (Element.ValueKind != JsonValueKind.String) throw Fault(expected);
        string value = Element.GetString()!;
        return choices.Length == 0 || choices.Contains(value) ? value : throw Fault(expected);
    }

    /// <summary>An array of integers in [<paramref name="min"/>, <paramref name="max"/>], of <paramref name="length"/> when given.</summary>
    public long[] Longs(long min = long.MinValue, long max = long.MaxValue, int? length = null) => [.. Items(length).Select(item => item.Long(min, max))];

    /// <summary>An array of integers in [0, 2⁶⁴), of <paramref name="length"/> when given.</summary>
    public ulong[] ULongs(int? length = null) => [.. Items(length).Select(item => item.ULong())];

    /// <summary>The exception for this value: it is not <paramref name="expected"/>.</summary>
    public Exception Fault(string expected, string? actual = null) =>
        Error($"{Scope}: '{(Key.Length == 0 ? "(root)" : Key)}' is {actual ?? Describe(Element)}; expected {expected}");

    private static string Describe(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Undefined => "missing",
        JsonValueKind.Null => "null",
        JsonValueKind.True or JsonValueKind.False => element.ValueKind.ToString().ToLowerInvariant(),
        JsonValueKind.Number => $"the number {Shorten(element.GetRawText())}",
        JsonValueKind.String => $"the string \"{Shorten(element.GetString()!)}\"",
        JsonValueKind.Array => $"an array of {element.GetArrayLength()}",
        _ => "an object",
    };

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";

    private static string Range(string what, long min, long max, long lowest, long highest) =>
        (min == lowest, max == highest) switch
        {
            (true, true) => what,
            (false, true) => string.Create(CultureInfo.InvariantCulture, $"{what} ≥ {min}"),
            (true, false) => string.Create(CultureInfo.InvariantCulture, $"{what} ≤ {max}"),
            _ => string.Create(CultureInfo.InvariantCulture, $"{what} in [{min}, {max}]"),
        };

    private static string Interval(string what, double min, double max, bool minExclusive, bool maxExclusive) =>
        (min == double.MinValue, max == double.MaxValue) switch
        {
            (true, true) => what,
            (false, true) => string.Create(CultureInfo.InvariantCulture, $"{what} {(minExclusive ? ">" : "≥")} {min}"),
            (true, false) => string.Create(CultureInfo.InvariantCulture, $"{what} {(maxExclusive ? "<" : "≤")} {max}"),
            _ => string.Create(CultureInfo.InvariantCulture, $"{what} in {(minExclusive ? "(" : "[")}{min}, {max}{(maxExclusive ? ")" : "]")}"),
        };
}
