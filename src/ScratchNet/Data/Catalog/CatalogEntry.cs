using ScratchNet.Data.Formats;

namespace ScratchNet.Data.Catalog;

/// <summary>The file format a catalog dataset comes in.</summary>
public enum CatalogFormat
{
    /// <summary>IDX image and label files (MNIST, Fashion-MNIST).</summary>
    Idx,

    /// <summary>CIFAR-10 binary batches.</summary>
    Cifar10,

    /// <summary>CIFAR-100 binary files with coarse and fine labels.</summary>
    Cifar100,
}

/// <summary>
/// A named dataset: where its official files come from and what they are called, and how to read a split.
/// </summary>
public sealed record CatalogEntry
{
    /// <summary>The name used on the command line and as the cache sub-folder, e.g. "fashion-mnist".</summary>
    public required string Name { get; init; }

    /// <summary>One line about the dataset.</summary>
    public required string Description { get; init; }

    /// <summary>The format of its data files.</summary>
    public required CatalogFormat Format { get; init; }

    /// <summary>Features per sample (pixels × channels).</summary>
    public required int Features { get; init; }

    /// <summary>Classes (CIFAR-100: the fine ones; the coarse labels have <see cref="Cifar.CoarseClasses"/>).</summary>
    public required int Classes { get; init; }

    /// <summary>Images in the official training files.</summary>
    public required int TrainCount { get; init; }

    /// <summary>Images in the official test files.</summary>
    public required int TestCount { get; init; }

    /// <summary>The files to download.</summary>
    public required IReadOnlyList<RemoteFile> Downloads { get; init; }

    /// <summary>The official training data files, e.g. the images then the labels.</summary>
    public required IReadOnlyList<string> TrainFiles { get; init; }

    /// <summary>The official test data files.</summary>
    public required IReadOnlyList<string> TestFiles { get; init; }

    /// <summary>The folder the downloaded archive unpacks into (e.g. "cifar-10-batches-bin"); null when the downloads are the data files.</summary>
    public string? ArchiveFolder { get; init; }

    /// <summary>Other sub-folders where the files are commonly kept, e.g. torchvision's "FashionMNIST/raw".</summary>
    public IReadOnlyList<string> OtherFolders { get; init; } = [];

    /// <summary>The data files of <paramref name="split"/>.</summary>
    public IReadOnlyList<string> FilesFor(DatasetSplit split) => split == DatasetSplit.Train ? TrainFiles : TestFiles;

    /// <summary>
    /// Names a data file may also have on disk: IDX files are found gzip-compressed (the official
    /// name) or already decompressed (the name without ".gz").
    /// </summary>
    public IEnumerable<string> OnDiskNames(string file) =>
        Format == CatalogFormat.Idx && file.EndsWith(".gz", StringComparison.Ordinal) ? [file, file[..^3]] : [file];

    /// <summary>Reads <paramref name="split"/> from <paramref name="folder"/>, which holds its data files.</summary>
    /// <param name="folder">The folder holding the split's files.</param>
    /// <param name="split">Training or test files.</param>
    /// <param name="labels">For CIFAR-100: fine or coarse labels; ignored otherwise.</param>
    /// <exception cref="DataFormatException">A file is malformed.</exception>
    /// <exception cref="FileNotFoundException">A file is missing.</exception>
    public ImageSet Load(string folder, DatasetSplit split, CifarLabels labels = CifarLabels.Fine)
    {
        var paths = FilesFor(split).Select(f => Resolve(folder, f)).ToArray();
        string name = split == DatasetSplit.Train ? Name : $"{Name} (test)";
        return Format switch
        {
            CatalogFormat.Idx => Idx.ReadImages(paths[0], paths[1], Classes, name),
            CatalogFormat.Cifar10 => Cifar.Read10(paths, name),
            _ => Cifar.Read100(paths, labels, name),
        };
    }

    // The first on-disk name that exists, else the official one (so the error names it).
    private string Resolve(string folder, string file) =>
        OnDiskNames(file).Select(n => Path.Combine(folder, n)).FirstOrDefault(File.Exists) ?? Path.Combine(folder, file);
}
