using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace ScratchNet.Bench;

/// <summary>Timing and the JSON-lines output every suite shares.</summary>
internal static class Report
{
    private static readonly JsonSerializerOptions Options = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// One result line, values rounded to <paramref name="digits"/> decimals; <paramref name="peerValue"/> null when the peer is unavailable. <paramref name="extra"/>
    /// fields follow the common ones (a suite's own; they never replace one).
    /// </summary>
    public static void Emit(string suite, string name, double ours, string? peer, double? peerValue, string unit, string? note = null,
        IEnumerable<KeyValuePair<string, object?>>? extra = null, int digits = 1)
    {
        var line = new Dictionary<string, object?>
        {
            ["suite"] = suite,
            ["case"] = name,
            ["ours"] = Math.Round(ours, digits),
            ["peer"] = peer,
            ["peer_value"] = peerValue is { } p ? Math.Round(p, digits) : null,
            ["unit"] = unit,
            ["ratio"] = peerValue is { } v && v > 0 ? Math.Round(ours / v, 3) : null,
        };
        foreach (var (key, value) in extra ?? []) line.Add(key, value);
        if (note is not null) line["note"] = note;
        Console.WriteLine(JsonSerializer.Serialize(line, Options));
    }

    /// <summary>
    /// Seconds per call of <paramref name="action"/>: the best of several timed batches of calls after a
    /// warm-up long enough for the tiered JIT to settle. The best, not the mean, because on a shared
    /// machine noise only ever adds time.
    /// </summary>
    public static double SecondsPerCall(Action action, double seconds = 1.0)
    {
        var warm = Stopwatch.StartNew();
        int calls = 0;
        while (warm.Elapsed.TotalSeconds < 0.5 || calls < 3) { action(); calls++; }
        int perBatch = Math.Max(1, (int)(calls / warm.Elapsed.TotalSeconds * seconds / 5));
        double best = double.MaxValue;
        for (int batch = 0; batch < 5; batch++)
        {
            var watch = Stopwatch.StartNew();
            for (int i = 0; i < perBatch; i++) action();
            best = Math.Min(best, watch.Elapsed.TotalSeconds / perBatch);
        }
        return best;
    }

    public static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
