using System.IO.Compression;

namespace ScratchNet.Data.Formats;

/// <summary>
/// numpy's NPZ format: a zip archive with one NPY file per array, the entry "x.npy" holding the array
/// named "x". <c>np.savez</c> stores the entries, <c>np.savez_compressed</c> deflates them; both are read.
/// </summary>
public static class Npz
{
    /// <summary>Reads every array of an .npz file, by name (the entry name without ".npy").</summary>
    /// <exception cref="DataFormatException">The file is not a valid zip, an entry name is unsafe (absolute, or with "..") or repeated, or an array is malformed; the message names the file, the entry and the offset.</exception>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    public static IReadOnlyDictionary<string, NpyArray> Read(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        var arrays = new Dictionary<string, NpyArray>(StringComparer.Ordinal);
        string where = path;
        try
        {
            using var zip = new ZipArchive(file, ZipArchiveMode.Read);
            foreach (var entry in zip.Entries)
            {
                where = $"{path}, entry '{entry.FullName}'";
                string name = entry.FullName;
                if (name.Length == 0 || name.StartsWith('/') || name.Contains('\\') || name.Split('/').Contains(".."))
                    throw new DataFormatException($"{where}: the entry name is a path outside the archive; an NPZ entry is named after its array, e.g. 'x.npy'.");
                if (!name.EndsWith(".npy", StringComparison.Ordinal)) continue;
                string key = name[..^4];
                if (arrays.ContainsKey(key)) throw new DataFormatException($"{where}: a second entry for the array '{key}'.");
                // The entry's bytes must have the CRC-32 and size its header gives (a flipped bit inside it is refused).
                uint expectedCrc = entry.Crc32;
                long expectedLength = entry.Length;
                using var stream = new Crc32Stream(entry.Open(), (crc, length) =>
                {
                    if (crc != expectedCrc || length != expectedLength)
                        throw new InvalidDataException($"the entry's {length} bytes have CRC-32 {crc:x8}, but the archive gives {expectedLength} bytes with CRC-32 {expectedCrc:x8} (corrupt file)");
                });
                // A deflated entry's stated size can lie; the reader then grows its arrays as bytes really arrive.
                var array = Npy.Read(new FormatReader(stream, where, length: null), entry.Length);
                stream.Drain();
                arrays[key] = array;
            }
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException or EndOfStreamException
                                       || (e is IOException && e is not FileNotFoundException and not DirectoryNotFoundException))
        {
            throw new DataFormatException($"{where}: not a valid zip archive ({e.Message}).", e);
        }
        return arrays;
    }

    /// <summary>Writes <paramref name="arrays"/> to an .npz file atomically, deflated when <paramref name="compress"/> (as <c>np.savez_compressed</c>).</summary>
    /// <exception cref="ArgumentException">A name is empty or contains '/' or "..".</exception>
    public static void Write(string path, IEnumerable<KeyValuePair<string, NpyArray>> arrays, bool compress = false) =>
        Write(path, compress, arrays.Select(a => (a.Key, (Action<Stream>)(stream => Npy.Write(stream, a.Value)))));

    /// <summary>Writes one entry "NAME.npy" per item, each filled by its writer; the whole file atomically.</summary>
    internal static void Write(string path, bool compress, IEnumerable<(string Name, Action<Stream> WriteNpy)> entries) =>
        AtomicFile.Write(path, file =>
        {
            using var zip = new ZipArchive(file, ZipArchiveMode.Create, leaveOpen: true);
            foreach (var (name, writeNpy) in entries)
            {
                if (name.Length == 0 || name.Contains('/') || name.Contains('\\') || name.Contains(".."))
                    throw new ArgumentException($"'{name}' cannot name an array in an NPZ file.", nameof(entries));
                var entry = zip.CreateEntry(name + ".npy", compress ? CompressionLevel.Fastest : CompressionLevel.NoCompression);
                using var stream = entry.Open();
                writeNpy(stream);
            }
        });
}
