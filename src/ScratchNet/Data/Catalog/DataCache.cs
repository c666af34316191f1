using ScratchNet.Data.Formats;

namespace ScratchNet.Data.Catalog;

/// <summary>The images of one split of a catalog dataset, where they were read from, and what looked wrong on the way.</summary>
/// <param name="Images">The images and labels.</param>
/// <param name="Folder">The folder the data files were read from.</param>
/// <param name="Warnings">E.g. a checksum that differs from the published one for a file in a data directory.</param>
public sealed record LoadedImages(ImageSet Images, string Folder, IReadOnlyList<string> Warnings);

/// <summary>
/// The folder where catalog datasets are downloaded to (one sub-folder per dataset), and the rules
/// for finding a dataset's files: in the cache, where downloads are verified against the published
/// checksums and a mismatch is an error, or in a data directory the user names, whose files are
/// trusted and a mismatch is only a warning.
/// </summary>
public sealed class DataCache
{
    /// <summary>The environment variable that overrides <see cref="DefaultFolder"/>.</summary>
    public const string FolderVariable = "SCRATCHNET_DATA";

    private readonly Downloader _downloader;

    /// <summary>A cache in <paramref name="folder"/> (default: <see cref="DefaultFolder"/>).</summary>
    /// <param name="folder">The cache folder; created when something is downloaded.</param>
    /// <param name="http">The client downloads use; a shared default when null.</param>
    /// <param name="idleTimeout">A download that receives nothing for this long fails (default 60 s).</param>
    public DataCache(string? folder = null, HttpClient? http = null, TimeSpan? idleTimeout = null)
    {
        Folder = Path.GetFullPath(folder ?? DefaultFolder());
        _downloader = new Downloader(http ?? SharedHttp.Value, idleTimeout ?? TimeSpan.FromSeconds(60));
    }

    private static readonly Lazy<HttpClient> SharedHttp = new(() => new HttpClient { Timeout = Timeout.InfiniteTimeSpan });

    /// <summary>The cache folder.</summary>
    public string Folder { get; }

    /// <summary>
    /// <c>$SCRATCHNET_DATA</c> when set, else "scratchnet/data" in the platform's user cache folder
    /// (<c>$XDG_CACHE_HOME</c> or ~/.cache on Linux, ~/Library/Caches on macOS, %LOCALAPPDATA% on Windows).
    /// </summary>
    public static string DefaultFolder()
    {
        if (Environment.GetEnvironmentVariable(FolderVariable) is { Length: > 0 } configured) return configured;
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string cache = OperatingSystem.IsWindows() ? Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData)
            : OperatingSystem.IsMacOS() ? Path.Combine(home, "Library", "Caches")
            : Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg
            : Path.Combine(home, ".cache");
        return Path.Combine(cache, "scratchnet", "data");
    }

    /// <summary>The sub-folder that holds <paramref name="entry"/>'s downloads.</summary>
    public string FolderOf(CatalogEntry entry) => Path.Combine(Folder, entry.Name);

    /// <summary>Whether both splits of <paramref name="entry"/> are in the cache, ready to load.</summary>
    public bool Holds(CatalogEntry entry) =>
        FindSplit(entry, DatasetSplit.Train, CacheCandidates(entry)) is not null && FindSplit(entry, DatasetSplit.Test, CacheCandidates(entry)) is not null;

    /// <summary>
    /// Loads <paramref name="split"/> of <paramref name="entry"/>: from <paramref name="dataDirectory"/>
    /// when given (its files are used as they are; checksums only warn), else from the cache,
    /// downloading what is missing.
    /// </summary>
    /// <param name="entry">The dataset.</param>
    /// <param name="split">Training or test files.</param>
    /// <param name="dataDirectory">A folder holding the official files directly, or in a sub-folder named after the dataset or the archive's folder.</param>
    /// <param name="labels">For CIFAR-100: fine or coarse labels.</param>
    /// <param name="progress">Receives download progress.</param>
    /// <param name="cancellation">Cancels a download.</param>
    /// <exception cref="DataNotFoundException">The files are not in the data directory, or could not be downloaded.</exception>
    /// <exception cref="ChecksumMismatchException">A downloaded or cached file differs from its published checksum.</exception>
    /// <exception cref="DataFormatException">A file is malformed.</exception>
    public async Task<LoadedImages> LoadAsync(CatalogEntry entry, DatasetSplit split, string? dataDirectory = null, CifarLabels labels = CifarLabels.Fine,
        IProgress<DownloadProgress>? progress = null, CancellationToken cancellation = default)
    {
        var warnings = new List<string>();
        string folder = dataDirectory is null
            ? await FromCacheAsync(entry, split, progress, cancellation)
            : FromDataDirectory(entry, split, Path.GetFullPath(dataDirectory), warnings);
        return new LoadedImages(entry.Load(folder, split, labels), folder, warnings);
    }

    /// <summary>
    /// Makes both splits of <paramref name="entry"/> ready in the cache: verifies the downloads already
    /// there, downloads the missing ones, and unpacks an archive. Returns the dataset's cache folder.
    /// </summary>
    /// <exception cref="DataNotFoundException">A file could not be downloaded from any of its URLs; the message names the files and the folder to place them in.</exception>
    /// <exception cref="ChecksumMismatchException">A download, or a file already in the cache, differs from the published checksum (a failed download is deleted).</exception>
    public async Task<string> DownloadAsync(CatalogEntry entry, IProgress<DownloadProgress>? progress = null, CancellationToken cancellation = default)
    {
        string folder = FolderOf(entry);
        // An archive's data files already unpacked are all that is needed, even if the archive is gone.
        if (entry.ArchiveFolder is not null && Holds(entry)) return folder;
        Directory.CreateDirectory(folder);
        var failed = new List<(RemoteFile File, IReadOnlyList<Downloader.Failure> Failures)>();
        foreach (var file in entry.Downloads)
        {
            string path = Path.Combine(folder, file.Name);
            if (File.Exists(path))
            {
                VerifyCached(path, file);
                continue;
            }
            if (await _downloader.DownloadAsync(file, folder, progress, cancellation) is { } failures) failed.Add((file, failures));
        }
        if (failed.FirstOrDefault(f => f.Failures.Any(x => x.ActualChecksum is not null)) is { File: not null } mismatch)
        {
            var bad = mismatch.Failures.First(x => x.ActualChecksum is not null);
            throw new ChecksumMismatchException(
                $"{mismatch.File.Name} downloaded from {bad.Url} has checksum {bad.ActualChecksum}, not the published {mismatch.File.Checksum}; the download was deleted. " +
                $"Try again later, or fetch the file by hand and put it in {folder}.",
                mismatch.File.Name, mismatch.File.Checksum.ToString(), bad.ActualChecksum!);
        }
        if (failed.Count > 0)
            throw new DataNotFoundException(
                $"Could not download {entry.Name}: {string.Join("; ", failed.Select(f => $"{f.File.Name} ({string.Join(", ", f.Failures.Select(x => $"{x.Url}: {x.Reason}"))})"))}. " +
                $"Without internet access, download {string.Join(", ", failed.Select(f => f.File.Name))} elsewhere and put them in {folder}, or point the data directory (scratchnet: --data-dir) at a folder that holds them.",
                [.. failed.Select(f => f.File.Name)], folder);
        if (entry.ArchiveFolder is not null && !Holds(entry)) Unpack(entry, Path.Combine(folder, entry.Downloads[0].Name));
        return folder;
    }

    private async Task<string> FromCacheAsync(CatalogEntry entry, DatasetSplit split, IProgress<DownloadProgress>? progress, CancellationToken cancellation)
    {
        if (FindSplit(entry, split, CacheCandidates(entry)) is { } cached)
        {
            // Files placed in the cache by hand are held to the published checksums like downloads.
            foreach (var (path, file) in DownloadsIn(entry, split, cached)) VerifyCached(path, file);
            return cached;
        }
        await DownloadAsync(entry, progress, cancellation);
        return FindSplit(entry, split, CacheCandidates(entry))
            ?? throw new DataNotFoundException($"{entry.Name}: the downloads in {FolderOf(entry)} do not hold {string.Join(", ", entry.FilesFor(split))}.", entry.FilesFor(split), FolderOf(entry));
    }

    private string FromDataDirectory(CatalogEntry entry, DatasetSplit split, string directory, List<string> warnings)
    {
        if (!Directory.Exists(directory))
            throw new DataNotFoundException($"The data directory {directory} does not exist.", entry.FilesFor(split), directory);
        var candidates = DataDirectoryCandidates(entry, directory);
        if (FindSplit(entry, split, candidates) is { } found)
        {
            foreach (var (path, file) in DownloadsIn(entry, split, found)) WarnOnMismatch(path, file, warnings);
            return found;
        }
        // An official archive in the data directory is unpacked into the cache, never beside it.
        if (entry.ArchiveFolder is not null
            && candidates.Select(c => Path.Combine(c, entry.Downloads[0].Name)).FirstOrDefault(File.Exists) is { } archive)
        {
            WarnOnMismatch(archive, entry.Downloads[0], warnings);
            Unpack(entry, archive);
            return FindSplit(entry, split, CacheCandidates(entry))!;
        }
        throw new DataNotFoundException(
            $"{entry.Name} ({split.ToString().ToLowerInvariant()}): none of {string.Join(", ", candidates)} holds {string.Join(" and ", entry.FilesFor(split))}" +
            $"{(entry.ArchiveFolder is null ? "" : $" or {entry.Downloads[0].Name}")}. Put the official files in {Path.Combine(directory, entry.Name)}" +
            $" (from {string.Join(", ", SourcesOf(entry, split).Select(d => d.Urls[0]))}).",
            entry.FilesFor(split), Path.Combine(directory, entry.Name));
    }

    // The downloads that hold the split: its own files, or the archive that holds every file.
    private static IEnumerable<RemoteFile> SourcesOf(CatalogEntry entry, DatasetSplit split) =>
        entry.ArchiveFolder is null ? entry.Downloads.Where(d => entry.FilesFor(split).Contains(d.Name)) : entry.Downloads;

    private void Unpack(CatalogEntry entry, string archive)
    {
        var members = entry.TrainFiles.Concat(entry.TestFiles).Select(f => $"{entry.ArchiveFolder}/{f}").ToArray();
        TarGz.Extract(archive, FolderOf(entry), members);
    }

    // The first folder that holds every data file of the split (under any of its on-disk names).
    private static string? FindSplit(CatalogEntry entry, DatasetSplit split, IEnumerable<string> folders) =>
        folders.FirstOrDefault(folder => entry.FilesFor(split).All(f => entry.OnDiskNames(f).Any(n => File.Exists(Path.Combine(folder, n)))));

    private IEnumerable<string> CacheCandidates(CatalogEntry entry) =>
        entry.ArchiveFolder is null ? [FolderOf(entry)] : [Path.Combine(FolderOf(entry), entry.ArchiveFolder)];

    private static string[] DataDirectoryCandidates(CatalogEntry entry, string directory)
    {
        var folders = new List<string> { directory, Path.Combine(directory, entry.Name) };
        if (entry.ArchiveFolder is { } inner) folders.AddRange([Path.Combine(directory, inner), Path.Combine(directory, entry.Name, inner)]);
        folders.AddRange(entry.OtherFolders.Select(f => Path.Combine(directory, f)));
        return [.. folders.Distinct()];
    }

    // The split's data files that are downloads themselves (and so have a published checksum) and sit in folder.
    private static IEnumerable<(string Path, RemoteFile File)> DownloadsIn(CatalogEntry entry, DatasetSplit split, string folder) =>
        SourcesOf(entry, split).Select(d => (Path.Combine(folder, d.Name), d)).Where(x => File.Exists(x.Item1));

    private static void VerifyCached(string path, RemoteFile file)
    {
        string actual = file.Checksum.Compute(path);
        if (!file.Checksum.Matches(actual))
            throw new ChecksumMismatchException(
                $"{path} has checksum {actual}, not the published {file.Checksum}. Delete it to download it again, or use it as it is from a data directory (scratchnet: --data-dir).",
                path, file.Checksum.ToString(), actual);
    }

    private static void WarnOnMismatch(string path, RemoteFile file, List<string> warnings)
    {
        string actual = file.Checksum.Compute(path);
        if (!file.Checksum.Matches(actual))
            warnings.Add($"{path} has checksum {actual}, not the published {file.Checksum}; using it as it is.");
    }
}
