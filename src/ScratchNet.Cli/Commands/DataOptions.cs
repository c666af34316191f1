using System.CommandLine;
using ScratchNet.Data.Catalog;
using ScratchNet.Data.Formats;

namespace ScratchNet.Cli.Commands;

/// <summary>What to load: a dataset name or file, which official split, and where its files are.</summary>
internal sealed record DataRequest(string Dataset, DatasetSplit Split, string? DataDirectory, CifarLabels Labels, CsvOptions Csv);

/// <summary>
/// The options that say where data comes from, shared by <c>train</c> and <c>data convert</c>. Each
/// option that applies to one kind of dataset only is a usage error with any other.
/// </summary>
internal sealed class DataOptions
{
    public Option<string?> DataDirectory { get; } = new("--data-dir")
    {
        Description = "Folder holding the official files of fashion-mnist, mnist, cifar-10 or cifar-100 (directly, or in a sub-folder named after the dataset " +
                      "or the archive's folder, e.g. DIR/fashion-mnist/, DIR/cifar-10-batches-bin/); nothing is downloaded and checksums only warn. " +
                      $"Default: the download cache (${DataCache.FolderVariable}, else the user cache folder).",
    };

    public Option<string?> Labels { get; } = Options.Choice("--labels", "cifar-100: the fine (100 classes) or coarse (20 classes) labels (default fine).", ["fine", "coarse"]);

    public Option<string?> CsvLabel { get; } = new("--csv-label") { Description = "csv:PATH: the label column, by header name or 0-based index (default: the last column)." };

    public Option<string?> CsvHeader { get; } = Options.Choice("--csv-header", "csv:PATH: whether the first line names the columns; auto: when none of its cells is a number.", ["auto", "yes", "no"], "auto");

    /// <summary>The <c>--dataset</c> option (or a dataset argument's parser): a known name, npz:PATH or csv:PATH.</summary>
    public static Option<string?> DatasetOption(string defaultValue) => new("--dataset")
    {
        Description = $"Dataset to train on: {Recipe.Expected}.",
        DefaultValueFactory = _ => defaultValue,
        CustomParser = result => ParseDataset(result.Tokens.Single().Value, "--dataset", result.AddError),
    };

    /// <summary>Accepts a known name or a file; otherwise reports an error through <paramref name="addError"/>.</summary>
    public static string? ParseDataset(string value, string option, Action<string> addError)
    {
        if (Recipe.DatasetNames.Contains(value) || Recipe.IsFile(value)) return value;
        addError($"{option}: unknown value '{value}'; expected one of {Recipe.Expected}.");
        return null;
    }

    public void AddTo(Command command)
    {
        command.Options.Add(DataDirectory);
        command.Options.Add(Labels);
        command.Options.Add(CsvLabel);
        command.Options.Add(CsvHeader);
    }

    /// <summary>The request these options make for <paramref name="dataset"/>.</summary>
    /// <exception cref="UsageException">An option does not apply to the dataset.</exception>
    public DataRequest Read(ParseResult parse, string dataset, DatasetSplit split) =>
        Read(dataset, split, parse.GetValue(DataDirectory), parse.GetValue(Labels), parse.GetValue(CsvLabel), parse.GetValue(CsvHeader));

    /// <summary>The request these values make for <paramref name="dataset"/> (from options or a run configuration).</summary>
    /// <exception cref="UsageException">A value does not apply to the dataset.</exception>
    public static DataRequest Read(string dataset, DatasetSplit split, string? dataDirectory, string? labels, string? csvLabel, string? csvHeader)
    {
        bool catalog = DatasetCatalog.Find(dataset) is not null;
        bool csv = dataset.StartsWith("csv:", StringComparison.Ordinal);
        string header = csvHeader ?? "auto";
        if (dataDirectory is not null && !catalog)
            throw new UsageException($"--data-dir applies to {string.Join(", ", DatasetCatalog.All.Select(e => e.Name))}, not to '{dataset}'.");
        if (labels is not null && dataset != "cifar-100")
            throw new UsageException($"--labels applies to cifar-100 only, not to '{dataset}'.");
        if (!csv && (csvLabel is not null || header != "auto"))
            throw new UsageException($"--csv-label and --csv-header apply to csv:PATH only, not to '{dataset}'.");
        if (split == DatasetSplit.Test && !catalog)
            throw new UsageException($"--split test: '{dataset}' has no official test files; only {string.Join(", ", DatasetCatalog.All.Select(e => e.Name))} do.");
        var csvOptions = new CsvOptions(LabelColumn: csvLabel, HasHeader: header switch { "yes" => true, "no" => false, _ => null });
        return new DataRequest(dataset, split, dataDirectory, labels == "coarse" ? CifarLabels.Coarse : CifarLabels.Fine, csvOptions);
    }
}
