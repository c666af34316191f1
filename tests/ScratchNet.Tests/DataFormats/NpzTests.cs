using System.IO.Compression;
using ScratchNet.Data;
using ScratchNet.Data.Formats;

namespace ScratchNet.Tests.DataFormats;

public class NpzTests
{
    // The report's cache of 4 samples with 3 features and 2 classes: x (3, 4), y one-hot (2, 4), one sample per column.
    private static readonly float[] X = [0.0f, 0.1f, 0.2f, 0.3f, 1.0f, 1.1f, 1.2f, 1.3f, 2.0f, 2.1f, 2.2f, 2.3f];
    private static readonly float[] Y = [1, 0, 0, 1, 0, 1, 1, 0];

    private static byte[] ReportCache(bool compress) => FormatBytes.Zip(compress,
        ("x.npy", FormatBytes.Npy("<f4", false, [3, 4], FormatBytes.Floats(X))),
        ("y.npy", FormatBytes.Npy("<f4", false, [2, 4], FormatBytes.Floats(Y))));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReadsTheReportsCacheLayoutStoredOrCompressed(bool compress)
    {
        using var folder = new TempFolder();
        string path = folder.Write("fashion_mnist_flattened_training.npz", ReportCache(compress));

        var data = NpzDataset.Load<float>(path);

        Assert.Equal("fashion_mnist_flattened_training", data.Name);
        Assert.Equal((4, 3), data.Features.Shape);
        Assert.Equal([0.0f, 1.0f, 2.0f], data.Features.Row(0).ToArray()); // sample 0 is column 0 of x
        Assert.Equal([0.3f, 1.3f, 2.3f], data.Features.Row(3).ToArray());
        Assert.Equal((4, 2), data.Targets.Shape);
        Assert.Equal([0, 1, 1, 0], Enumerable.Range(0, 4).Select(data.ClassOf));
    }

    [Fact]
    public void ReadsFortranOrderedAndBigEndianArraysOfTheLayout()
    {
        using var folder = new TempFolder();
        // x stored column by column: each sample's features contiguous.
        float[] xColumns = [0.0f, 1.0f, 2.0f, 0.1f, 1.1f, 2.1f, 0.2f, 1.2f, 2.2f, 0.3f, 1.3f, 2.3f];
        string path = folder.Write("f.npz", FormatBytes.Zip(false,
            ("x.npy", FormatBytes.Npy(">f4", true, [3, 4], FormatBytes.Floats(xColumns, bigEndian: true))),
            ("y.npy", FormatBytes.Npy("|u1", false, [2, 4], [1, 0, 0, 1, 0, 1, 1, 0]))));

        var data = NpzDataset.Load<double>(path);

        Assert.Equal([0.1f, 1.1f, 2.1f], data.Features.Row(1).ToArray().Select(v => (float)v));
        Assert.Equal([0, 1, 1, 0], Enumerable.Range(0, 4).Select(data.ClassOf));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SavedImagesLoadBackAsTheSameSamples(bool compress)
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "tiny.npz");
        var images = new ImageSet("tiny", 2, 2, 1, FormatBytes.Random(3 * 4, seed: 3), [2, 0, 1], classes: 3).AsSamples<float>();

        NpzDataset.Save(path, images, compress);
        var back = NpzDataset.Load<float>(path);

        var (x, y) = (new Matrix<float>(0, 4), new Matrix<float>(0, 3));
        images.Gather([0, 1, 2], x, y);
        Assert.Equal(x.ToArray(), back.Features.ToArray());
        Assert.Equal(y.ToArray(), back.Targets.ToArray());
        // On disk: the report's layout, (features, samples) and (classes, samples), float32.
        var arrays = Npz.Read(path);
        Assert.Equal([4, 3], arrays["x"].Shape);
        Assert.Equal([3, 3], arrays["y"].Shape);
        Assert.Equal(NpyType.Float32, arrays["x"].Type);
        Assert.Equal(x[2, 1], arrays["x"].At<float>(1, 2)); // feature 1 of sample 2
        using var zip = ZipFile.OpenRead(path);
        Assert.Equal(["x.npy", "y.npy"], zip.Entries.Select(e => e.FullName));
        Assert.Equal(compress, zip.Entries[0].CompressedLength < zip.Entries[0].Length);
    }

    [Fact]
    public void SavingDoublesWritesFloat64()
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "d.npz");
        var data = new Dataset<double>("d", new Matrix<double>(2, 1, [0.1, 1e-300]), new Matrix<double>(2, 1, [3.5, -1]));

        NpzDataset.Save(path, data);
        var back = NpzDataset.Load<double>(path);

        Assert.Equal(NpyType.Float64, Npz.Read(path)["x"].Type);
        Assert.Equal([0.1, 1e-300], back.Features.ToArray());
        Assert.Equal([3.5, -1], back.Targets.ToArray()); // regression targets survive as they are
    }

    [Fact]
    public void NpzWriteAndReadRoundTripNamedArrays()
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "a.npz");

        Npz.Write(path, [new("weights", NpyArray.Of([2, 2], [1f, 2, 3, 4])), new("ids", NpyArray.Of([3], new byte[] { 7, 8, 9 }))], compress: true);
        var arrays = Npz.Read(path);

        Assert.Equal(["ids", "weights"], arrays.Keys.Order());
        Assert.Equal([7, 8, 9], arrays["ids"].Data);
        Assert.Equal(4f, arrays["weights"].At<float>(1, 1));
        Assert.Equal(["a.npz"], folder.Files());
        Assert.Throws<ArgumentException>(() => Npz.Write(path, [new("../up", NpyArray.Of([1], [1f]))]));
    }

    public static TheoryData<string, byte[], string> BadArchives()
    {
        byte[] npy = FormatBytes.Npy("<f4", false, [3, 4], FormatBytes.Floats(X));
        byte[] good = ReportCache(compress: true);
        return new()
        {
            { "dot-dot entry", FormatBytes.Zip(false, ("../x.npy", npy)), "entry '../x.npy': the entry name is a path outside the archive" },
            { "nested dot-dot entry", FormatBytes.Zip(false, ("a/../../x.npy", npy)), "entry 'a/../../x.npy': the entry name is a path outside" },
            { "absolute entry", FormatBytes.Zip(false, ("/etc/x.npy", npy)), "entry '/etc/x.npy': the entry name is a path outside" },
            { "repeated array", FormatBytes.Zip(false, ("x.npy", npy), ("x.npy", npy)), "entry 'x.npy': a second entry for the array 'x'" },
            { "not a zip", FormatBytes.Random(300, seed: 4), "not a valid zip archive" },
            { "truncated zip", good[..(good.Length / 2)], "not a valid zip archive" },
            { "corrupt deflate", Corrupt(good), "x.npy'" },
            { "lying npy inside", FormatBytes.Zip(true, ("x.npy", FormatBytes.Npy("<f4", false, [300, 4], FormatBytes.Floats(X)))), "entry 'x.npy', offset 128: the header says shape (300, 4) of <f4, 4800 bytes of data, but 48 bytes follow the header" },
        };

        // Flips bits in the middle of x.npy's compressed data.
        static byte[] Corrupt(byte[] zip)
        {
            var copy = (byte[])zip.Clone();
            for (int i = 40; i < 60; i++) copy[i] ^= 0x5A;
            return copy;
        }
    }

    [Theory]
    [MemberData(nameof(BadArchives))]
    public void MalformedArchivesNameTheFileAndEntry(string what, byte[] bytes, string expected)
    {
        Rejection.Assert("bad.npz", bytes, path => Npz.Read(path), what, expected);
    }

    [Fact]
    public void LayoutErrorsSayWhatTheReportsLayoutIs()
    {
        using var folder = new TempFolder();
        string noX = folder.Write("a.npz", FormatBytes.Zip(false, ("y.npy", FormatBytes.Npy("<f4", false, [2, 4], FormatBytes.Floats(Y)))));
        string flat = folder.Write("b.npz", FormatBytes.Zip(false,
            ("x.npy", FormatBytes.Npy("<f4", false, [12], FormatBytes.Floats(X))), ("y.npy", FormatBytes.Npy("<f4", false, [2, 4], FormatBytes.Floats(Y)))));
        string disagree = folder.Write("c.npz", FormatBytes.Zip(false,
            ("x.npy", FormatBytes.Npy("<f4", false, [4, 3], FormatBytes.Floats(X))), ("y.npy", FormatBytes.Npy("<f4", false, [2, 4], FormatBytes.Floats(Y)))));

        Assert.Equal($"{noX}: no array 'x' (found: y); expected x (features × samples) and y (targets × samples).",
            Assert.Throws<DataFormatException>(() => NpzDataset.Load<float>(noX)).Message);
        Assert.Equal($"{flat}, array 'x': shape (12); expected two dimensions (features × samples).",
            Assert.Throws<DataFormatException>(() => NpzDataset.Load<float>(flat)).Message);
        Assert.Equal($"{disagree}: x has 3 samples (columns) but y has 4; expected x (features × samples) and y (targets × samples).",
            Assert.Throws<DataFormatException>(() => NpzDataset.Load<float>(disagree)).Message);
    }
}
