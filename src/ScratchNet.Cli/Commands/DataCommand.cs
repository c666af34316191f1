using System.CommandLine;
using System.Globalization;
using ScratchNet.Data.Catalog;
using ScratchNet.Data.Formats;

namespace ScratchNet.Cli.Commands;

/// <summary>
/// <c>scratchnet data list | download NAME | convert NAME --to npz</c>: what the catalog holds and
/// whether it is in the cache, fetching a dataset, and writing any dataset in the report's .npz layout.
/// </summary>
public static class DataCommand
{
    /// <summary>Creates the command; results go to <paramref name="output"/>, progress and warnings to <paramref name="error"/>.</summary>
    public static Command Create(TextWriter output, TextWriter error)
    {
        var command = new Command("data", "List, download and convert datasets.");
        command.Subcommands.Add(List(output));
        command.Subcommands.Add(Download(output, error));
        command.Subcommands.Add(Convert(output, error));
        return command;
    }

    private static Command List(TextWriter output)
    {
        var list = new Command("list", "List the named datasets, their sizes, and whether they are in the download cache.");
        list.SetAction(_ =>
        {
            var cache = new DataCache();
            output.WriteLine($"# cache: {cache.Folder} (set ${DataCache.FolderVariable} to move it)");
            foreach (var entry in DatasetCatalog.All)
            {
                string state = cache.Holds(entry) ? $"in cache ({cache.FolderOf(entry)})" : "not downloaded";
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{entry.Name}\t{entry.TrainCount:N0} train, {entry.TestCount:N0} test, {entry.Features} features, {entry.Classes} classes\t{state}\t{entry.Description}"));
            }
            output.WriteLine("# also: digits, linear, folded, square, patterns (built in), npz:PATH, csv:PATH");
            return 0;
        });
        return list;
    }

    private static Command Download(TextWriter output, TextWriter error)
    {
        var name = CatalogName();
        var download = new Command("download", "Download a dataset into the cache and check it against the published checksums.") { name };
        download.SetAction(parse =>
        {
            var entry = DatasetCatalog.Find(parse.GetValue(name)!)!;
            var cache = new DataCache();
            string folder = cache.DownloadAsync(entry, new ProgressLines(error)).GetAwaiter().GetResult();
            output.WriteLine($"# {entry.Name}: ready in {folder}");
            return 0;
        });
        return download;
    }

    private static Command Convert(TextWriter output, TextWriter error)
    {
        var name = new Argument<string>("NAME")
        {
            Description = $"The dataset: {Recipe.Expected}.",
            CustomParser = result => DataOptions.ParseDataset(result.Tokens.Single().Value, "NAME", result.AddError),
        };
        var to = Options.Choice("--to", "Output format.", ["npz"]);
        to.Required = true;
        var outPath = new Option<string?>("--out") { Description = "The file to write (default: NAME-SPLIT.npz in the current folder)." };
        var split = Options.Choice("--split", "Which official files: train or test (catalog datasets only).", ["train", "test"], "train");
        var compress = new Option<bool>("--compress") { Description = "Deflate the arrays (np.savez_compressed); default: stored, as np.savez." };
        var data = new DataOptions();
        var convert = new Command("convert", "Write a dataset as .npz in the report's layout: x (features × samples) and y (one-hot × samples), float32.")
        {
            name, to, outPath, split, compress,
        };
        data.AddTo(convert);
        convert.SetAction(parse =>
        {
            string dataset = parse.GetValue(name)!;
            var which = parse.GetValue(split) == "test" ? DatasetSplit.Test : DatasetSplit.Train;
            var request = data.Read(parse, dataset, which);
            var loaded = DataLoader.Load<float>(request, seed: 0, error);
            string path = parse.GetValue(outPath) ?? $"{FileStem(dataset)}-{which.ToString().ToLowerInvariant()}.npz";
            NpzDataset.Save(path, loaded.Samples, parse.GetValue(compress));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"# wrote {path}: x ({loaded.Samples.FeatureCount}, {loaded.Samples.Count}) float32, y ({loaded.Samples.TargetCount}, {loaded.Samples.Count}) float32"));
            return 0;
        });
        return convert;
    }

    private static Argument<string> CatalogName() => new("NAME")
    {
        Description = $"One of {string.Join(", ", DatasetCatalog.All.Select(e => e.Name))}.",
        CustomParser = result =>
        {
            string value = result.Tokens.Single().Value;
            if (DatasetCatalog.Find(value) is { } entry) return entry.Name;
            result.AddError($"NAME: unknown dataset '{value}'; expected one of {string.Join(", ", DatasetCatalog.All.Select(e => e.Name))}.");
            return null;
        },
    };

    // "csv:data/iris.csv" → "iris"; "fashion-mnist" → "fashion-mnist".
    private static string FileStem(string dataset) =>
        Recipe.IsFile(dataset) ? Path.GetFileName(dataset[4..]).Split('.')[0] : dataset;
}
