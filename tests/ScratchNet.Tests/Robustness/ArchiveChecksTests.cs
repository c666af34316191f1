using System.IO.Compression;
using System.Text;
using ScratchNet.Data.Catalog;
using ScratchNet.Data.Formats;
using ScratchNet.Tests.DataFormats;

namespace ScratchNet.Tests.Robustness;

/// <summary>
/// Issue 16, cases 5, 7 and 8: CIFAR files reached through symbolic links are read; a flipped bit inside an NPZ
/// entry fails its CRC-32; a gzip file cut at a deflate flush point (which inflates without complaint) fails the
/// trailer's CRC-32 and length check, for every reader of gzip data.
/// </summary>
public class ArchiveChecksTests
{
    [Fact]
    public void CifarBatchesGivenAsSymbolicLinksAreRead()
    {
        using var folder = new TempFolder();
        string target = folder.Write("real/data_batch_1.bin", FormatBytes.CifarRecords(FormatBytes.Random(2 * 3072, seed: 9), [3, 7]));
        string link = Path.Combine(folder.Path, "data_batch_1.bin");
        File.CreateSymbolicLink(link, target);

        var images = Cifar.Read10([link], "linked");

        Assert.Equal(2, images.Count);
        Assert.Equal(File.ReadAllBytes(target)[1..3073], images.Pixels[..3072]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AFlippedBitInsideAnNpzEntryFailsItsCrc(bool compress)
    {
        byte[] x = FormatBytes.Npy("<f4", false, [2, 3], FormatBytes.Floats([1, 2, 3, 4, 5, 6]));
        byte[] y = FormatBytes.Npy("<f4", false, [2, 3], FormatBytes.Floats([1, 0, 1, 0, 1, 0]));
        byte[] npz = FormatBytes.Zip(compress, ("x.npy", x), ("y.npy", y));
        if (!compress)
        {
            // A stored entry's data is the NPY itself: flip the lowest bit of the float 6 (its last byte is the exponent's; take the first).
            int at = IndexOf(npz, x) + x.Length - 4;
            npz[at] ^= 1;
        }
        else
        {
            // Deflated: rewrite the archive with x's data changed but the original entry CRC kept, as a bit flip on disk would leave it.
            npz = WithCrcOf(npz, FormatBytes.Zip(true, ("x.npy", [.. x[..^4], .. FormatBytes.Floats([7])]), ("y.npy", y)));
        }
        Rejection.Assert("data.npz", npz, path => NpzDataset.Load<float>(path), "bit flip", "entry 'x.npy'");
        Rejection.Assert("data.npz", npz, path => NpzDataset.Load<float>(path), "bit flip", "CRC-32");
    }

    // IDX needs no trailer for this: its header's counts already catch a cut (FormatReader reads through the same check).
    public static TheoryData<string> GzipReaders => new() { "csv", "tar.gz", "predict csv.gz" };

    [Theory]
    [MemberData(nameof(GzipReaders))]
    public void AGzipFileCutAtAFlushPointIsRefused(string reader)
    {
        using var folder = new TempFolder();
        byte[] content = reader switch
        {
            "tar.gz" => [],
            _ => Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 400).Select(i => $"{i % 7},{i % 5},{i % 2}\n"))),
        };
        var (whole, cut) = reader == "tar.gz" ? TarFlushedAndCut() : HostileFiles.FlushedAndCut(content);
        string path = folder.Write(reader == "predict csv.gz" ? "rows.csv.gz" : "data.gz", cut);

        // The cut file inflates silently: only the trailer tells.
        Assert.True(Inflate(cut).Length < Inflate(whole).Length);
        Action<string> read = reader switch
        {
            "csv" => p => Csv.Read<float>(p),
            "tar.gz" => p => TarGz.Extract(p, Path.Combine(folder.Path, "out"), ["a.bin"]),
            _ => p =>
            {
                var (exit, _, error) = Cli.CliRunner.Run("predict", "--model", HostileFiles.TinyModel(folder, 3), p);
                Assert.Equal(1, exit);
                throw new DataFormatException(error["error: ".Length..].Trim());
            },
        };
        Rejection.Assert(Path.GetFileName(path), cut, read, reader, "the gzip trailer gives");
        File.WriteAllBytes(path, whole);
        if (reader != "predict csv.gz") read(path);   // the whole file reads
    }

    private static (byte[] Whole, byte[] Cut) TarFlushedAndCut()
    {
        byte[] tar = Inflate(FormatBytes.TarGz(("a.bin", FormatBytes.Random(3000, seed: 4)), ("b.bin", FormatBytes.Random(3000, seed: 5))));
        // Cut after the first member's data: the tar reader finds "a.bin" and then the end of its input.
        var (whole, _) = HostileFiles.FlushedAndCut(tar);
        using var memory = new MemoryStream();
        long flushedAt;
        using (var gzip = new GZipStream(memory, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(tar.AsSpan(0, 512 + 3072));
            gzip.Flush();
            flushedAt = memory.Length;
            gzip.Write(tar.AsSpan(512 + 3072));
        }
        return (whole, memory.ToArray()[..(int)flushedAt]);
    }

    private static byte[] Inflate(byte[] gzip)
    {
        using var output = new MemoryStream();
        using (var stream = new GZipStream(new MemoryStream(gzip), CompressionMode.Decompress)) stream.CopyTo(output);
        return output.ToArray();
    }

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
            if (haystack.AsSpan(i, needle.Length).SequenceEqual(needle)) return i;
        throw new InvalidOperationException("not found");
    }

    // The bytes of `changed` with every CRC-32 field (local header at 14, central directory at 16) copied from `original`.
    private static byte[] WithCrcOf(byte[] original, byte[] changed)
    {
        Assert.Equal(original.Length, changed.Length);
        var bytes = (byte[])changed.Clone();
        for (int i = 0; i + 4 <= bytes.Length; i++)
        {
            uint signature = BitConverter.ToUInt32(bytes, i);
            int crcAt = signature == 0x04034b50 ? i + 14 : signature == 0x02014b50 ? i + 16 : -1;
            if (crcAt > 0) original.AsSpan(crcAt, 4).CopyTo(bytes.AsSpan(crcAt));
        }
        return bytes;
    }
}
