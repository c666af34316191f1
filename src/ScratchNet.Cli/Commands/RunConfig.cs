using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ScratchNet.Cli.Commands;

/// <summary>
/// Every setting of a <c>train</c> run, as written to a run folder's <c>config.json</c> and read back by
/// <c>train --config FILE</c>. JSON field names are the option names in snake_case (<c>--batch-size</c> →
/// <c>batch_size</c>); lists are JSON arrays (<c>"layers": [800, 300]</c>). One field has no option: <c>network</c>, the
/// whole architecture as a list of layer entries in the model file's format (<see cref="Layers.LayerRegistry"/>). A null field is "not set": the
/// command line sets it, else the dataset's recipe. The <c>config.json</c> that <c>train</c> writes has every
/// field resolved (the weight scales included, He's too), so <c>train --config</c> on it reruns the same run.
/// A new <c>train</c> setting is a property here (nullable; its JSON name is the option's name in snake_case),
/// an option in <see cref="TrainCommandOptions"/> that fills it, and its default and check in
/// <see cref="TrainCommandOptions.Resolve(RunConfig, string?, IReadOnlySet{string}, string?)"/>.
/// </summary>
public sealed class RunConfig
{
    public string? Dataset { get; set; }
    public string? DataDir { get; set; }
    public string? Labels { get; set; }
    public string? CsvLabel { get; set; }
    public string? CsvHeader { get; set; }
    public int[]? Layers { get; set; }
    public string? Loss { get; set; }
    public double? Lr { get; set; }
    public double? Reg { get; set; }
    public int? Epochs { get; set; }
    public int? BatchSize { get; set; }
    public double[]? Init { get; set; }
    public ulong? Seed { get; set; }
    public int? Threads { get; set; }
    public string? Dtype { get; set; }
    public double? ValFraction { get; set; }
    public bool? Stratify { get; set; }

    // Training beyond the report (see TrainingSetup): optimiser, schedule, regularisers, guards, checkpoints.
    public string? InitScheme { get; set; }
    public string? Activation { get; set; }
    public double? Dropout { get; set; }
    public string? Optimizer { get; set; }
    public double? Momentum { get; set; }
    public double? WeightDecay { get; set; }
    public double? ClipNorm { get; set; }
    public string? Schedule { get; set; }
    public int? Warmup { get; set; }
    public int? StepSize { get; set; }
    public double? Gamma { get; set; }
    public double? MinLr { get; set; }
    public int? PlateauPatience { get; set; }
    public int? EarlyStopping { get; set; }
    public string? Monitor { get; set; }
    public double? MinDelta { get; set; }
    public bool? Test { get; set; }
    public int? CheckpointEvery { get; set; }
    public int? TrainEvalRows { get; set; }
    public string? Device { get; set; }

    // Across micro-batches and processes: gradient accumulation, and how ranks sum their gradients under MPI.
    public int? Accumulate { get; set; }
    public string? Reduce { get; set; }

    // The recipe's pieces (see RecipeSetup): architecture preset, augmentation, normalisation, test-time augmentation,
    // label smoothing, optimiser details, per-step schedules, weight averaging.
    public string? Arch { get; set; }
    public JsonElement? Network { get; set; }
    public int? CropPadding { get; set; }
    public string? Flip { get; set; }
    public int? Cutout { get; set; }
    public string? Normalize { get; set; }
    public double[]? NormMean { get; set; }
    public double[]? NormStd { get; set; }
    public string? Tta { get; set; }
    public double? LabelSmoothing { get; set; }
    public string? WeightDecayMode { get; set; }
    public double? BiasLrScale { get; set; }
    public double? PeakFraction { get; set; }
    public double? StartFactor { get; set; }
    public double? EndFactor { get; set; }
    public double? Ema { get; set; }
    public int? EmaEvery { get; set; }
    public double? EmaPower { get; set; }
    public int? EmaStartEpoch { get; set; }
    public bool? Lookahead { get; set; }

    // The settings, in declaration order (instance properties only: FieldNames is static).
    private static readonly System.Reflection.PropertyInfo[] Fields =
        typeof(RunConfig).GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance);

    /// <summary>The file name a run folder keeps its configuration under.</summary>
    public const string FileName = "config.json";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
        // Doubles keep every bit (round-trip formatting), so a rerun gets the same weights.
        NumberHandling = JsonNumberHandling.Strict,
    };

    /// <summary>The JSON field names, in declaration order.</summary>
    public static IReadOnlyList<string> FieldNames { get; } =
        [.. Fields.Select(p => JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name))];

    /// <summary>The option a field stands for: <c>batch_size</c> → <c>--batch-size</c>.</summary>
    public static string OptionName(string field) => "--" + field.Replace('_', '-');

    /// <summary>The configuration as indented JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Writes <see cref="ToJson"/> to <paramref name="path"/> atomically.</summary>
    public void Write(string path) => AtomicFile.WriteAllText(path, ToJson() + "\n");

    /// <summary>Reads a configuration file: one JSON object whose fields are among <see cref="FieldNames"/>.</summary>
    /// <exception cref="UsageException">The file is missing, is not such an object, names an unknown field or holds a value of the wrong type; the message names the file and the field.</exception>
    public static RunConfig Read(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--config: cannot read '{path}': {e.Message}");
        }
        return Parse(text, path);
    }

    /// <summary>Parses <paramref name="text"/> as <see cref="Read"/> does; <paramref name="path"/> names it in messages.</summary>
    public static RunConfig Parse(string text, string path)
    {
        try
        {
            using (var document = JsonDocument.Parse(text))
            {
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                    throw new UsageException($"--config {path}: expected one JSON object of settings, found {document.RootElement.ValueKind.ToString().ToLowerInvariant()}.");
                foreach (var field in document.RootElement.EnumerateObject())
                    if (!FieldNames.Contains(field.Name))
                        throw new UsageException($"--config {path}: unknown field '{field.Name}'; expected some of {string.Join(", ", FieldNames)}.");
            }
            return JsonSerializer.Deserialize<RunConfig>(text, Json)!;
        }
        catch (JsonException e)
        {
            // The serializer's message names CLR types; the path ($.epochs) and position are what a reader needs.
            string where = e.Path is { Length: > 1 } p ? $"field '{p.TrimStart('$', '.')}'" : "the JSON";
            string position = e.LineNumber is { } line ? string.Create(CultureInfo.InvariantCulture, $" (line {line + 1}, byte {e.BytePositionInLine + 1})") : "";
            string field = e.Path is { Length: > 1 } f ? f.TrimStart('$', '.').Split('[', '.')[0] : "";
            string expected = Fields.FirstOrDefault(x => JsonNamingPolicy.SnakeCaseLower.ConvertName(x.Name) == field) is { } property
                ? $"expected {Expected(property.PropertyType)}."
                : FirstSentence(e.Message);
            throw new UsageException($"--config {path}: {where} is not valid{position}: {expected}");
        }
    }

    // What a field's JSON value must be, in words (the serializer's own message names CLR types such as System.Nullable`1[System.Int32]).
    private static string Expected(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type.IsArray) return $"an array of {Expected(type.GetElementType()!).Replace("a ", "").Replace("an ", "")}s";
        if (type == typeof(JsonElement)) return "a list of layers, each an object with a \"type\"";
        if (type == typeof(string)) return "a string";
        if (type == typeof(bool)) return "true or false";
        if (type == typeof(double)) return "a number";
        if (type == typeof(ulong)) return "a whole number ≥ 0";
        return "a whole number";
    }

    /// <summary>A copy in which every field set in <paramref name="overrides"/> replaces this one's.</summary>
    public RunConfig OverriddenBy(RunConfig overrides)
    {
        var merged = new RunConfig();
        foreach (var property in Fields)
            property.SetValue(merged, property.GetValue(overrides) ?? property.GetValue(this));
        return merged;
    }

    /// <summary>The JSON names of the fields set (not null).</summary>
    public IEnumerable<string> SetFields() =>
        Fields.Where(p => p.GetValue(this) is not null).Select(p => JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name));

    private static string FirstSentence(string message)
    {
        int end = message.IndexOf(". ", StringComparison.Ordinal);
        return (end > 0 ? message[..(end + 1)] : message).ReplaceLineEndings(" ");
    }
}
