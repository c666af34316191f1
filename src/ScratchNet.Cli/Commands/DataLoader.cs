using System.Numerics;
using ScratchNet.Data;
using ScratchNet.Data.Catalog;
using ScratchNet.Data.Formats;

namespace ScratchNet.Cli.Commands;

/// <summary>A loaded dataset: its name, one line about it, and its samples.</summary>
internal sealed record LoadedData<T>(string Name, string Description, ISampleSource<T> Samples) where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The images underneath, for the catalog datasets (kept as bytes); null otherwise.</summary>
    public ImageSet? Images => (Samples as ImageSamples<T>)?.Images ?? (Samples as Data.Augmentation.AugmentedImages<T>)?.Images;
}

/// <summary>Loads what a <see cref="DataRequest"/> names: a catalog dataset (downloading it when needed), a file, or a built-in set.</summary>
internal static class DataLoader
{
    /// <summary>Loads the request; download progress and warnings go to <paramref name="error"/>.</summary>
    public static LoadedData<T> Load<T>(DataRequest request, ulong seed, TextWriter error) where T : unmanaged, IFloatingPointIeee754<T>
    {
        string dataset = request.Dataset;
        if (DatasetCatalog.Find(dataset) is { } entry)
        {
            var cache = new DataCache();
            var loaded = cache.LoadAsync(entry, request.Split, request.DataDirectory, request.Labels, new ProgressLines(error)).GetAwaiter().GetResult();
            foreach (string warning in loaded.Warnings) error.WriteLine($"warning: {warning}");
            string labels = entry.Format == CatalogFormat.Cifar100 ? $", {request.Labels.ToString().ToLowerInvariant()} labels" : "";
            return new(loaded.Images.Name, $"{entry.Description}{labels}; {request.Split.ToString().ToLowerInvariant()} files from {loaded.Folder}", loaded.Images.AsSamples<T>());
        }
        if (dataset.StartsWith("npz:", StringComparison.Ordinal))
        {
            var data = NpzDataset.Load<T>(dataset[4..]);
            return new(data.Name, $"npz file {dataset[4..]}", data);
        }
        if (dataset.StartsWith("csv:", StringComparison.Ordinal))
        {
            var data = Csv.Read<T>(dataset[4..], request.Csv);
            WarnOfAStrayClass(data, dataset[4..], error);
            return new(data.Name, $"csv file {dataset[4..]}", data);
        }
        var recipe = Recipe.For(dataset);
        Dataset<T> builtIn = dataset switch
        {
            "digits" => Digits.Load<T>(),
            "linear" => ToyData.Linear<T>(seed: seed),
            "folded" => ToyData.Folded<T>(seed: seed),
            "square" => ToyData.Square<T>(seed: seed),
            "patterns" => ToyData.Patterns<T>(seed: seed),
            _ => throw new UsageException($"--dataset: unknown dataset '{dataset}'; expected one of {Recipe.Expected}."),
        };
        return new(builtIn.Name, recipe.Description, builtIn);
    }

    /// <summary>
    /// A last class with a single row while every other has ten or more is most likely a typo (a label 10 among 0..9),
    /// which would silently widen the network's output by one: said in a warning, since it may also be real.
    /// </summary>
    internal static void WarnOfAStrayClass<T>(Dataset<T> data, string path, TextWriter error) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var counts = new int[data.TargetCount];
        for (int row = 0; row < data.Count; row++) counts[data.ClassOf(row)]++;
        int last = counts.Length - 1;
        if (last >= 2 && counts[last] == 1 && counts[..last].Min() >= 10)
            error.WriteLine($"warning: {path}: class {last} has one row, every other class at least {counts[..last].Min()}; the network gets {counts.Length} outputs. A mislabelled row?");
    }
}
