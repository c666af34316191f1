using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using ScratchNet.Data.Catalog;
using ScratchNet.Data.Formats;

namespace ScratchNet.Tests.DataFormats;

/// <summary>
/// Mutates small valid files of each format (bit flips, truncations, length fields and numbers set to
/// huge values, overwritten runs) and asserts that reading them either succeeds or throws
/// <see cref="DataFormatException"/>: never another exception, never a long stall. The cases are
/// seeded, so a failure names a case that reproduces. SCRATCHNET_FUZZ_CASES sets the cases per format.
/// </summary>
public class FuzzTests
{
    private static int Cases =>
        int.TryParse(Environment.GetEnvironmentVariable("SCRATCHNET_FUZZ_CASES"), out int cases) && cases > 0 ? cases : 3000;

    private static readonly byte[] Pixels = FormatBytes.Random(4 * 3072, seed: 40);

    public static TheoryData<string> Formats => new()
    {
        "idx images", "idx images gzip", "idx labels", "cifar-10", "cifar-100", "npy", "npz stored", "npz compressed", "csv", "csv gzip", "tar.gz",
    };

    [Theory]
    [MemberData(nameof(Formats))]
    public void MutatedFilesFailOnlyWithDataFormatException(string format)
    {
        using var folder = new TempFolder();
        var (seed, read) = Subject(format, folder);
        string path = Path.Combine(folder.Path, "fuzzed");
        File.WriteAllBytes(path, seed);
        read(path); // the unmutated file is valid, so rejections below come from the mutations

        var random = new Random(format.Length * 7919 + format[0]);
        var escaped = new List<string>();
        int rejected = 0;
        // The whole run's limit scales with the case count (a few ms per case on a busy 2-core machine, about 10× what one takes).
        var budget = TimeSpan.FromSeconds(10) + TimeSpan.FromMilliseconds(3.0 * Cases);
        var total = Stopwatch.StartNew();
        for (int i = 0; i < Cases; i++)
        {
            var (bytes, mutation) = Mutate(seed, random);
            File.WriteAllBytes(path, bytes);
            var clock = Stopwatch.StartNew();
            try
            {
                read(path);
            }
            catch (DataFormatException)
            {
                rejected++;
            }
            catch (Exception e)
            {
                escaped.Add($"case {i} ({mutation}): {e.GetType().Name}: {e.Message}");
            }
            if (clock.Elapsed > TimeSpan.FromSeconds(5)) escaped.Add($"case {i} ({mutation}) took {clock.Elapsed.TotalSeconds:F1} s");
        }

        Assert.True(escaped.Count == 0, $"{escaped.Count} of {Cases} cases escaped:\n{string.Join('\n', escaped.Take(10))}");
        Assert.True(rejected > Cases / 10, $"only {rejected} of {Cases} mutations were rejected; the mutations miss the format");
        Assert.True(total.Elapsed < budget, $"{Cases} cases took {total.Elapsed.TotalSeconds:F1} s, over the {budget.TotalSeconds:F0} s budget");
    }

    // The valid file of a format, and how to read one like it.
    private static (byte[] Seed, Action<string> Read) Subject(string format, TempFolder folder)
    {
        byte[] images = FormatBytes.Idx([4, 5, 5], FormatBytes.Random(100, seed: 41)), labels = FormatBytes.Idx([4], [0, 9, 3, 1]);
        string imagesPath = folder.Write("images", images), labelsPath = folder.Write("labels", labels);
        byte[] npz(bool compress) => FormatBytes.Zip(compress,
            ("x.npy", FormatBytes.Npy("<f4", false, [3, 4], FormatBytes.Floats([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]))),
            ("y.npy", FormatBytes.Npy("|u1", true, [2, 4], [1, 0, 0, 1, 1, 0, 0, 1])));
        byte[] csv = Encoding.ASCII.GetBytes("a,b,c,label\n0.5,1e-3,-2,1\n3,4,5,0\n6.25,7,8,2\n");
        string destination = Path.Combine(folder.Path, "out");
        return format switch
        {
            "idx images" => (images, path => Idx.ReadImages(path, labelsPath, 10, "f")),
            "idx images gzip" => (FormatBytes.Gzip(images), path => Idx.ReadImages(path, labelsPath, 10, "f")),
            "idx labels" => (labels, path => Idx.ReadImages(imagesPath, path, 10, "f")),
            "cifar-10" => (FormatBytes.CifarRecords(Pixels, [0, 9, 5, 1]), path => Cifar.Read10([path], "f")),
            "cifar-100" => (FormatBytes.CifarRecords(Pixels, [0, 99, 50, 1], coarse: [19, 0, 7, 3]), path => Cifar.Read100([path], CifarLabels.Coarse, "f")),
            "npy" => (FormatBytes.Npy(">f8", true, [2, 3], FormatBytes.Doubles([1, 2, 3, 4, 5, 6], bigEndian: true)), path => Npy.Read(path)),
            "npz stored" => (npz(false), path => NpzDataset.Load<float>(path)),
            "npz compressed" => (npz(true), path => NpzDataset.Load<double>(path)),
            "csv" => (csv, path => Csv.Read<float>(path)),
            "csv gzip" => (FormatBytes.Gzip(csv), path => Csv.Read<float>(path, new CsvOptions("label"))),
            "tar.gz" => (FormatBytes.TarGz(("d/a.bin", FormatBytes.Random(700, seed: 42)), ("d/b.bin", [1, 2, 3])), path =>
            {
                TarGz.Extract(path, destination, ["d/a.bin", "d/b.bin"]);
                Assert.All(folder.Files(), f => Assert.True(f is "images" or "labels" or "fuzzed" || f.StartsWith("out/d/", StringComparison.Ordinal), f));
            }),
            _ => throw new ArgumentException(format),
        };
    }

    private static (byte[] Bytes, string Mutation) Mutate(byte[] seed, Random random)
    {
        var bytes = (byte[])seed.Clone();
        switch (random.Next(5))
        {
            case 0:
                int flips = 1 + random.Next(4);
                var bits = new List<int>();
                for (int f = 0; f < flips; f++)
                {
                    int bit = random.Next(bytes.Length * 8);
                    bytes[bit / 8] ^= (byte)(1 << (bit % 8));
                    bits.Add(bit);
                }
                return (bytes, $"flip bits {string.Join(", ", bits)}");
            case 1:
                int length = random.Next(bytes.Length);
                return (bytes[..length], $"truncate to {length} bytes");
            case 2:
                // A length or count field set huge: 4 bytes, either byte order, at a random offset.
                uint[] huge = [0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 0x00FFFFFF, (uint)random.Next()];
                uint value = huge[random.Next(huge.Length)];
                int at = random.Next(Math.Max(1, bytes.Length - 3));
                if (random.Next(2) == 0) BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(at), value);
                else BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at), value);
                return (bytes, $"write 0x{value:X8} at {at}");
            case 3:
                // A number in text (an NPY shape, a CSV cell) set huge or negative.
                string text = Encoding.Latin1.GetString(bytes);
                var digits = System.Text.RegularExpressions.Regex.Matches(text, "[0-9]+");
                if (digits.Count == 0) return (bytes, "no number to change");
                var match = digits[random.Next(digits.Count)];
                string replacement = random.Next(3) switch { 0 => "99999999999", 1 => "2147483647", _ => "-1" };
                return (Encoding.Latin1.GetBytes(text[..match.Index] + replacement + text[(match.Index + match.Length)..]), $"number at {match.Index} → {replacement}");
            default:
                int start = random.Next(bytes.Length), run = Math.Min(1 + random.Next(8), bytes.Length - start);
                random.NextBytes(bytes.AsSpan(start, run));
                return (bytes, $"overwrite {run} bytes at {start}");
        }
    }
}
