using ScratchNet.Data.Formats;

namespace ScratchNet.Tests.DataFormats;

public class IdxTests
{
    private static readonly byte[] Pixels = FormatBytes.Random(5 * 3 * 4, seed: 1);
    private static readonly byte[] Labels = [3, 0, 9, 1, 2];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReadsImagesAndLabelsRawOrGzipped(bool gzip)
    {
        using var folder = new TempFolder();
        byte[] images = FormatBytes.Idx([5, 3, 4], Pixels), labels = FormatBytes.Idx([5], Labels);
        string imagesPath = folder.Write("images", gzip ? FormatBytes.Gzip(images) : images);
        string labelsPath = folder.Write("labels", gzip ? FormatBytes.Gzip(labels) : labels);

        var set = Idx.ReadImages(imagesPath, labelsPath, classes: 10, "tiny");

        Assert.Equal((5, 3, 4, 1, 10), (set.Count, set.Height, set.Width, set.Channels, set.Classes));
        Assert.Equal(Pixels, set.Pixels);
        Assert.Equal(Labels, set.Labels);
        Assert.Equal(Pixels.Length + Labels.Length, set.ByteSize);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WriteThenReadGivesTheSameArray(bool gzip)
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "a.idx");

        Idx.Write(path, [5, 3, 4], Pixels, gzip);
        var array = Idx.Read(path);

        Assert.Equal([5, 3, 4], array.Shape);
        Assert.Equal(Pixels, array.Data);
        Assert.Equal(gzip, File.ReadAllBytes(path)[0] == 0x1F);
        Assert.Equal(["a.idx"], folder.Files()); // no temporary file left behind
    }

    public static TheoryData<string, byte[], string> BadFiles => new()
    {
        { "wrong magic", [0x01, 0x02, 0x08, 0x01, 0, 0, 0, 0], "offset 0: the magic number starts 01 02" },
        { "float32 elements", [0, 0, 0x0D, 0x01, 0, 0, 0, 0], "offset 2: the element type is 0x0D (float32)" },
        { "unknown element type", [0, 0, 0x42, 0x01, 0, 0, 0, 0], "offset 2: the element type byte is 0x42" },
        { "no dimensions", [0, 0, 0x08, 0x00], "offset 3: the dimension count is 0" },
        { "header cut short", [0, 0, 0x08, 0x03, 0, 0, 0, 5, 0, 0], "offset 8: the file ends inside dimension 1: expected 4 bytes, found 2" },
        { "negative dimension", [0, 0, 0x08, 0x01, 0xFF, 0xFF, 0xFF, 0xFE], "offset 4: dimension 0 is 4294967294" },
        { "data cut short", FormatBytes.Idx([2, 2], [1, 2, 3, 4])[..^1], "offset 12: the 2×2 elements needs 4 bytes but only 3 remain" },
        { "trailing data", [.. FormatBytes.Idx([2], [1, 2]), 7], "offset 10: 1 bytes follow the 2 elements" },
        { "product overflows", FormatBytes.Idx([65536, 65536, 65536], []), "offset 12: the dimensions 65536×65536 hold more than" },
        { "huge count, tiny file", FormatBytes.Idx([60000, 28, 28], [1, 2, 3]), "needs 47040000 bytes but only 3 remain" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void MalformedFilesNameTheFileOffsetAndExpectation(string what, byte[] bytes, string expected)
    {
        Rejection.Assert("bad.idx", bytes, path => Idx.Read(path), what, expected);
    }

    [Fact]
    public void HugeCountInAGzippedFileFailsWithoutAllocatingTheCount()
    {
        using var folder = new TempFolder();
        // The header claims 2 GB; the gzip stream holds 3 bytes. Growing arrays as data arrives, the
        // reader stops at the end of the stream instead of allocating 2 GB first.
        string path = folder.Write("huge.gz", FormatBytes.Gzip(FormatBytes.Idx([2_000_000_000], [1, 2, 3])));
        long before = GC.GetAllocatedBytesForCurrentThread();

        var error = Assert.Throws<DataFormatException>(() => Idx.Read(path));

        Assert.Contains("(gunzipped), offset 8: the file ends inside the 2000000000 elements: expected 2000000000 bytes, found 3", error.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20, "allocated more than 16 MB");
    }

    [Fact]
    public void CorruptGzipIsADataFormatError()
    {
        using var folder = new TempFolder();
        byte[] gzip = FormatBytes.Gzip(FormatBytes.Idx([5, 3, 4], Pixels));
        gzip[12] ^= 0xFF; // inside the deflate stream
        string path = folder.Write("corrupt.gz", gzip);

        var error = Assert.Throws<DataFormatException>(() => Idx.Read(path));

        Assert.Contains("corrupt compressed data", error.Message);
    }

    [Fact]
    public void CountsThatDisagreeNameBothFiles()
    {
        using var folder = new TempFolder();
        string images = folder.Write("images", FormatBytes.Idx([5, 3, 4], Pixels));
        string labels = folder.Write("labels", FormatBytes.Idx([4], Labels[..4]));

        var error = Assert.Throws<DataFormatException>(() => Idx.ReadImages(images, labels, 10, "tiny"));

        Assert.Equal($"{images} holds 5 images but {labels} holds 4 labels; expected one label per image.", error.Message);
    }

    [Fact]
    public void LabelOutOfRangeNamesItsOffset()
    {
        using var folder = new TempFolder();
        string images = folder.Write("images", FormatBytes.Idx([5, 3, 4], Pixels));
        string labels = folder.Write("labels", FormatBytes.Idx([5], [3, 0, 10, 1, 2]));

        var error = Assert.Throws<DataFormatException>(() => Idx.ReadImages(images, labels, 10, "tiny"));

        Assert.Equal($"{labels}, offset 10 (label 2): 10 is not a class; expected 0..9.", error.Message);
    }

    [Fact]
    public void ImagesAndLabelsMustHaveTheirDimensions()
    {
        using var folder = new TempFolder();
        string flat = folder.Write("flat", FormatBytes.Idx([5, 12], Pixels));
        string labels = folder.Write("labels", FormatBytes.Idx([5], Labels));
        string images = folder.Write("images", FormatBytes.Idx([5, 3, 4], Pixels));

        Assert.Contains("has 2 dimensions (5×12); expected 3 (images, rows, columns)", Assert.Throws<DataFormatException>(() => Idx.ReadImages(flat, labels, 10, "x")).Message);
        Assert.Contains("has 3 dimensions (5×3×4); expected 1 (one label per image)", Assert.Throws<DataFormatException>(() => Idx.ReadImages(images, images, 10, "x")).Message);
    }
}
