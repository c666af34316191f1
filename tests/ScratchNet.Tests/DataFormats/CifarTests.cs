using ScratchNet.Data.Formats;

namespace ScratchNet.Tests.DataFormats;

public class CifarTests
{
    private static readonly byte[] Pixels = FormatBytes.Random(3 * 3072, seed: 2);

    [Fact]
    public void ReadsCifar10BatchesInOrder()
    {
        using var folder = new TempFolder();
        string first = folder.Write("data_batch_1.bin", FormatBytes.CifarRecords(Pixels[..(2 * 3072)], [7, 0]));
        string second = folder.Write("data_batch_2.bin", FormatBytes.CifarRecords(Pixels[(2 * 3072)..], [9]));

        var set = Cifar.Read10([first, second], "cifar-10");

        Assert.Equal((3, 32, 32, 3, 10), (set.Count, set.Height, set.Width, set.Channels, set.Classes));
        Assert.Equal([7, 0, 9], set.Labels);
        Assert.Equal(Pixels, set.Pixels); // the red, green and blue planes kept in the file's order
    }

    [Theory]
    [InlineData(CifarLabels.Fine, new byte[] { 99, 0, 42 }, 100)]
    [InlineData(CifarLabels.Coarse, new byte[] { 19, 3, 0 }, 20)]
    public void ReadsCifar100WithFineOrCoarseLabels(CifarLabels which, byte[] expected, int classes)
    {
        using var folder = new TempFolder();
        string path = folder.Write("train.bin", FormatBytes.CifarRecords(Pixels, labels: [99, 0, 42], coarse: [19, 3, 0]));

        var set = Cifar.Read100([path], which, "cifar-100");

        Assert.Equal(expected, set.Labels);
        Assert.Equal(classes, set.Classes);
        Assert.Equal(Pixels, set.Pixels);
    }

    [Fact]
    public void WriteThenReadRoundTripsBothVariants()
    {
        using var folder = new TempFolder();
        string ten = Path.Combine(folder.Path, "ten.bin"), hundred = Path.Combine(folder.Path, "hundred.bin");

        Cifar.Write(ten, Pixels, [1, 2, 3]);
        Cifar.Write(hundred, Pixels, [50, 60, 70], coarseLabels: [5, 6, 7]);

        Assert.Equal(FormatBytes.CifarRecords(Pixels, [1, 2, 3]), File.ReadAllBytes(ten));
        Assert.Equal([50, 60, 70], Cifar.Read100([hundred], CifarLabels.Fine, "h").Labels);
        Assert.Equal([5, 6, 7], Cifar.Read100([hundred], CifarLabels.Coarse, "h").Labels);
    }

    [Fact]
    public void TruncatedFileNamesTheCutRecord()
    {
        using var folder = new TempFolder();
        string path = folder.Write("data_batch_1.bin", FormatBytes.CifarRecords(Pixels, [1, 2, 3])[..^100]);

        var error = Assert.Throws<DataFormatException>(() => Cifar.Read10([path], "c"));

        Assert.Equal($"{path}, offset 6146: the last record is cut short (2973 of 3073 bytes; the file's 9119 bytes are not a whole number of records; truncated file?).", error.Message);
    }

    [Fact]
    public void EmptyFileIsAnError()
    {
        using var folder = new TempFolder();
        string path = folder.Write("test_batch.bin", []);

        Assert.Contains("the file is empty; expected 3073-byte records", Assert.Throws<DataFormatException>(() => Cifar.Read10([path], "c")).Message);
    }

    [Fact]
    public void LabelsOutOfRangeNameRecordAndOffset()
    {
        using var folder = new TempFolder();
        string ten = folder.Write("ten.bin", FormatBytes.CifarRecords(Pixels, [1, 10, 3]));
        string hundred = folder.Write("hundred.bin", FormatBytes.CifarRecords(Pixels, [1, 2, 3], coarse: [0, 0, 20]));

        Assert.Equal($"{ten}, offset 3073: record 1: label 10 is not a class; expected 0..9.",
            Assert.Throws<DataFormatException>(() => Cifar.Read10([ten], "c")).Message);
        // Both labels are checked whichever is trained on: a bad coarse label means a bad file.
        Assert.Equal($"{hundred}, offset 6148: record 2: coarse label 20 is not a class; expected 0..19.",
            Assert.Throws<DataFormatException>(() => Cifar.Read100([hundred], CifarLabels.Fine, "c")).Message);
    }

    [Fact]
    public void MissingFileIsFileNotFound()
    {
        using var folder = new TempFolder();

        var error = Assert.Throws<FileNotFoundException>(() => Cifar.Read10([Path.Combine(folder.Path, "data_batch_1.bin")], "c"));

        Assert.Contains("data_batch_1.bin", error.Message);
    }
}
