using System.Formats.Tar;
using System.IO.Compression;

namespace ScratchNet.Data.Catalog;

/// <summary>
/// Extracts named members of a .tar.gz archive (the official CIFAR downloads). Only the members asked
/// for are written, only regular files, and only inside the destination folder; an archive with an
/// entry that names a path outside its folder (absolute, or with "..") is refused as a whole.
/// </summary>
public static class TarGz
{
    /// <summary>
    /// Writes each of <paramref name="members"/> (paths inside the archive, '/'-separated) to
    /// <paramref name="destination"/>/member, atomically, and returns their paths.
    /// </summary>
    /// <exception cref="DataFormatException">The archive is corrupt, lacks a member, has a member that is not a regular file, or has an unsafe entry name.</exception>
    public static IReadOnlyList<string> Extract(string archive, string destination, IReadOnlyCollection<string> members)
    {
        string root = Path.GetFullPath(destination);
        var wanted = new HashSet<string>(members, StringComparer.Ordinal);
        var written = new List<string>();
        try
        {
            using var file = new FileStream(archive, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
            using var gzip = (Stream?)Formats.Gzip.Decompress(file) ?? new GZipStream(file, CompressionMode.Decompress);
            using var tar = new TarReader(gzip);
            while (tar.GetNextEntry() is { } entry)
            {
                string name = entry.Name.StartsWith("./", StringComparison.Ordinal) ? entry.Name[2..] : entry.Name;
                if (!IsSafe(name))
                    throw new DataFormatException($"{archive}: entry '{entry.Name}' names a path outside the archive's folder; refusing to extract from this archive.");
                if (!wanted.Remove(name)) continue;
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null)
                    throw new DataFormatException($"{archive}: entry '{entry.Name}' is a {entry.EntryType}; expected a regular file.");
                string target = Path.GetFullPath(Path.Combine(root, name));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                var data = entry.DataStream;
                AtomicFile.Write(target, output => data.CopyTo(output));
                written.Add(target);
            }
            gzip.CopyTo(Stream.Null);   // to the end, where the gzip trailer is checked
        }
        // TarReader reports a corrupt header as any of these (found by fuzzing: an octal size field that
        // overflows, an extended-attributes entry larger than its data, a bad name).
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException or OverflowException
                                       or ArgumentException or InvalidOperationException or NotSupportedException)
        {
            throw new DataFormatException($"{archive}: not a valid .tar.gz archive ({e.Message}).", e);
        }
        if (wanted.Count > 0)
            throw new DataFormatException($"{archive}: the archive has no {string.Join(", ", wanted.Order())}; expected the official archive.");
        return written;
    }

    // Relative, '/'-separated, no empty, "." or ".." segment: such a name cannot leave the destination.
    private static bool IsSafe(string name) =>
        name.Length > 0 && !Path.IsPathRooted(name) && !name.Contains('\\') && !name.Contains(':')
        && name.TrimEnd('/').Split('/').All(segment => segment is not ("" or "." or ".."));
}
