using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using ScratchNet.Plots;
using ScratchNet.Training;

namespace ScratchNet.Cli.Commands;

/// <summary>
/// A training run's folder: <c>config.json</c> (rerun with <c>train --config</c>), <c>history.csv</c> and
/// <c>history.json</c>, <c>curves.png</c>/<c>.svg</c>, <c>model.safetensors</c> and <c>summary.md</c>.
/// Every file is written atomically.
/// </summary>
internal sealed class RunFolder(string path)
{
    public const string HistoryCsv = "history.csv", HistoryJson = "history.json", CurvesPng = "curves.png", CurvesSvg = "curves.svg",
        Model = "model.safetensors", Summary = "summary.md";

    public string Path { get; } = path;

    /// <summary><c>runs/DATASET-yyyyMMdd-HHmmss</c> (a file dataset by its file name), with <c>-2</c>, <c>-3</c>, … when that folder exists.</summary>
    public static string DefaultPath(string dataset, DateTime now)
    {
        string name = Recipe.IsFile(dataset) ? $"{dataset[..3]}-{System.IO.Path.GetFileName(dataset[4..]).Split('.')[0]}" : dataset;
        string stem = System.IO.Path.Combine("runs", $"{name}-{now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}");
        string candidate = stem;
        for (int k = 2; Directory.Exists(candidate); k++) candidate = $"{stem}-{k}";
        return candidate;
    }

    /// <summary>
    /// Readies the folder before any training: creates it and writes <c>config.json</c>, so that a folder that takes no
    /// files (read-only, not a folder) fails now rather than after the run; with <paramref name="removeCheckpoint"/>, deletes
    /// an earlier run's checkpoint (<c>--overwrite</c>), so that no later <c>--resume</c> continues that run.
    /// </summary>
    /// <exception cref="IOException">The folder cannot be created or written; the message names it.</exception>
    public void Start(RunConfig config, bool removeCheckpoint)
    {
        try
        {
            Directory.CreateDirectory(Path);
            config.Write(System.IO.Path.Combine(Path, RunConfig.FileName));
            if (removeCheckpoint) File.Delete(System.IO.Path.Combine(Path, TrainingSetup.CheckpointFile));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"the run folder '{Path}' cannot be written, so nothing was trained: {e.Message}", e);
        }
    }

    /// <summary>Writes the run's files; returns their paths in the order written.</summary>
    public IReadOnlyList<string> Write<T>(RunConfig config, History history, Network<T> network, IReadOnlyDictionary<string, string> metadata, string title, RunSummary summary)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Directory.CreateDirectory(Path);
        var written = new List<string>();
        string File(string name)
        {
            string file = System.IO.Path.Combine(Path, name);
            written.Add(file);
            return file;
        }
        config.Write(File(RunConfig.FileName));
        history.WriteCsv(File(HistoryCsv));
        HistoryFiles.WriteJson(history, File(HistoryJson));
        network.Save(File(Model), metadata);
        TrainingCurves.Save(history, title, File(CurvesPng), File(CurvesSvg));
        AtomicFile.WriteAllText(File(Summary), summary.ToMarkdown());
        return written;
    }
}

/// <summary>The report's statistics block for a run, as Markdown.</summary>
internal sealed record RunSummary(string Dataset, string Network, int TrainRows, int ValidationRows, RunResult Result, int EpochsPlanned)
{
    public string ToMarkdown()
    {
        var final = Result.History.Final;
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"# {Dataset}: network {Network}\n\n");
        text.Append(CultureInfo.InvariantCulture, $"{TrainRows} training and {ValidationRows} validation samples; {Result.EpochsCompleted} of {EpochsPlanned} epochs")
            .Append(Result.Interrupted ? " (interrupted by a signal: Ctrl-C, SIGTERM or SIGHUP)" : "").Append(".\n\n");
        text.Append("| statistic | value |\n|---|---|\n");
        text.Append(CultureInfo.InvariantCulture, $"| Final Training Loss | {final.TrainLoss:F3} |\n");
        text.Append(CultureInfo.InvariantCulture, $"| Final Training Accuracy | {final.TrainAccuracy:F3} |\n");
        text.Append(CultureInfo.InvariantCulture, $"| Final Validation Loss | {final.ValidationLoss:F3} |\n");
        text.Append(CultureInfo.InvariantCulture, $"| Final Validation Accuracy | {final.ValidationAccuracy:F3} |\n");
        if (Result.History.HasTestSet)
        {
            text.Append(CultureInfo.InvariantCulture, $"| Final Test Loss | {final.TestLoss:F3} |\n");
            text.Append(CultureInfo.InvariantCulture, $"| Final Test Accuracy | {final.TestAccuracy:F3} |\n");
        }
        text.Append(CultureInfo.InvariantCulture, $"| Wall time | {Duration(Result.WallSeconds)} |\n");
        text.Append(CultureInfo.InvariantCulture, $"| Training samples/s | {Result.SamplesPerSecond(TrainRows):F0} |\n\n");
        text.Append("Wall time runs from the statistics before training (epoch −1) to the last epoch's; samples/s counts the epochs' steps and statistics passes.\n\n");
        text.Append("![loss and accuracy per epoch](curves.png)\n");
        return text.ToString();
    }

    /// <summary>Seconds, or minutes and seconds past a minute: "12.3 s", "37.6 min".</summary>
    public static string Duration(double seconds) =>
        seconds < 60 ? string.Create(CultureInfo.InvariantCulture, $"{seconds:F1} s") : string.Create(CultureInfo.InvariantCulture, $"{seconds / 60:F1} min");
}

/// <summary>The model-file metadata <c>train</c> adds: the dataset (for <c>evaluate</c> without <c>--dataset</c>) and the whole run configuration.</summary>
internal static class ModelMetadata
{
    public const string Dataset = "dataset", Labels = "labels", TrainConfig = "train_config";

    public static IReadOnlyDictionary<string, string> For(RunConfig config)
    {
        var metadata = new Dictionary<string, string> { [Dataset] = config.Dataset!, [TrainConfig] = config.ToJson() };
        if (config.Labels is { } labels) metadata[Labels] = labels;
        return metadata;
    }
}

/// <summary>Histories as JSON (an array of objects with the CSV's field names) and read back from a run's CSV or JSON.</summary>
internal static class HistoryFiles
{
    // test_loss and test_acc only when the run had a test set (--test), as in the CSV.
    private sealed record Row(int Epoch, double TrainLoss, double TrainAcc, double ValLoss, double ValAcc, double Seconds, double? TestLoss = null, double? TestAcc = null);

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        // A diverged epoch's NaN or ±∞ is written as "NaN"/"Infinity" (JSON numbers cannot hold them), so the history is kept.
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static void WriteJson(History history, string path) =>
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(
            history.Select(e => new Row(e.Epoch, e.TrainLoss, e.TrainAccuracy, e.ValidationLoss, e.ValidationAccuracy, Math.Round(e.Seconds, 3),
                history.HasTestSet ? e.TestLoss : null, history.HasTestSet ? e.TestAccuracy : null)), Json) + "\n");

    /// <summary>Reads a run's history: <paramref name="run"/> is a run folder (history.csv, else history.json) or one of those files.</summary>
    /// <exception cref="UsageException">Neither file exists there.</exception>
    /// <exception cref="DataFormatException">The file does not hold a history; the message names the file and line.</exception>
    public static History Read(string run)
    {
        string csv = Directory.Exists(run) ? System.IO.Path.Combine(run, RunFolder.HistoryCsv) : run;
        string json = Directory.Exists(run) ? System.IO.Path.Combine(run, RunFolder.HistoryJson) : run;
        if (File.Exists(csv) && csv.EndsWith(".csv", StringComparison.OrdinalIgnoreCase)) return ReadCsv(csv);
        if (File.Exists(json) && json.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) return ReadJson(json);
        throw new UsageException($"'{run}' is neither a run folder with {RunFolder.HistoryCsv} or {RunFolder.HistoryJson} nor such a file.");
    }

    private static History ReadCsv(string path)
    {
        string[] lines = File.ReadAllLines(path);
        string withTest = $"{History.CsvHeader},{History.CsvTestColumns}";
        if (lines.Length == 0 || (lines[0].Trim() != History.CsvHeader && lines[0].Trim() != withTest))
            throw new DataFormatException($"{path}: line 1: expected the header '{History.CsvHeader}' (or '{withTest}').");
        bool hasTest = lines[0].Trim() == withTest;
        int columns = hasTest ? 8 : 6;
        var epochs = new List<EpochStats>();
        for (int n = 1; n < lines.Length; n++)
        {
            if (lines[n].Length == 0) continue;
            string[] cells = lines[n].Split(',');
            var values = new double[columns];
            if (cells.Length != columns || !cells.Select((c, i) => double.TryParse(c, NumberStyles.Float, CultureInfo.InvariantCulture, out values[i])).All(ok => ok))
                throw new DataFormatException($"{path}: line {n + 1}: expected {columns} numbers, got '{lines[n]}'.");
            epochs.Add(hasTest
                ? new EpochStats((int)values[0], values[1], values[2], values[3], values[4], values[5], values[6], values[7])
                : new EpochStats((int)values[0], values[1], values[2], values[3], values[4], values[5]));
        }
        if (epochs.Count == 0) throw new DataFormatException($"{path}: the history has no epochs.");
        return new History(epochs, hasTest);
    }

    private static History ReadJson(string path)
    {
        Row[]? rows;
        try { rows = JsonSerializer.Deserialize<Row[]>(File.ReadAllText(path), Json); }
        catch (JsonException e) { throw new DataFormatException($"{path}: not a history ({e.Message})"); }
        if (rows is not { Length: > 0 }) throw new DataFormatException($"{path}: the history has no epochs.");
        return new History(rows.Select(r => new EpochStats(r.Epoch, r.TrainLoss, r.TrainAcc, r.ValLoss, r.ValAcc, r.Seconds,
            r.TestLoss ?? double.NaN, r.TestAcc ?? double.NaN)), hasTestSet: rows.Any(r => r.TestLoss is not null));
    }
}
