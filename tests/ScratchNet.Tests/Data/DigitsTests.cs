using System.IO.Compression;
using System.Text;
using ScratchNet.Data;

namespace ScratchNet.Tests.Data;

/// <summary>The embedded digits set, and <see cref="Digits.Read"/> on good and malformed in-memory gzip CSV.</summary>
public class DigitsTests
{
    private const string Source = "test-digits.csv.gz";

    [Fact]
    public void EmbeddedSetIsTheUciDigits()
    {
        var data = Digits.Load<float>();
        Assert.Equal("digits", data.Name);
        Assert.Equal((1797, 64), data.Features.Shape);
        Assert.Equal((1797, 10), data.Targets.Shape);
        // Pixels are counts 0..16 divided by 16: exact in binary, so every value is k/16.
        Assert.All(data.Features.ToArray(), v =>
        {
            Assert.InRange(v, 0f, 1f);
            Assert.Equal(MathF.Round(v * 16), v * 16);
        });
        Assert.Equal(1f, data.Features.ToArray().Max());
        var perClass = new int[10];
        for (int i = 0; i < data.Count; i++)
        {
            float[] row = data.Targets.Row(i).ToArray();
            Assert.Equal(1, row.Count(v => v == 1f));
            Assert.Equal(9, row.Count(v => v == 0f));
            perClass[Array.IndexOf(row, 1f)]++;
        }
        // scikit-learn's copy has 174..183 images of each digit.
        Assert.All(perClass, count => Assert.InRange(count, 174, 183));
    }

    [Fact]
    public void DoubleLoadHoldsTheSameValues()
    {
        var f = Digits.Load<float>();
        var d = Digits.Load<double>();
        Assert.Equal(f.Features.ToArray().Select(v => (double)v), d.Features.ToArray());
        Assert.Equal(f.Targets.ToArray().Select(v => (double)v), d.Targets.ToArray());
    }

    [Fact]
    public void ReadsValidLinesSkippingBlankOnesAndCrLf()
    {
        string text = Line(pixel: 16, label: 3) + "\r\n\r\n" + Line(pixel: 4, label: 0) + "\n";
        var data = Digits.Read<double>(Gzip(text), Source);
        Assert.Equal(2, data.Count);
        Assert.Equal(1.0, data.Features[0, 0]);
        Assert.Equal(0.25, data.Features[1, 0]);
        Assert.Equal(0.5, data.Features[0, 1]);
        Assert.Equal(3, Array.IndexOf(data.Targets.Row(0).ToArray(), 1.0));
        Assert.Equal(0, Array.IndexOf(data.Targets.Row(1).ToArray(), 1.0));
    }

    [Fact]
    public void NotGzipNamesTheSource()
    {
        var plain = new MemoryStream(Encoding.UTF8.GetBytes(Line(pixel: 1, label: 1) + "\n"));
        var e = Assert.Throws<DataFormatException>(() => Digits.Read<float>(plain, Source));
        Assert.Contains(Source, e.Message);
        Assert.Contains("gzip", e.Message);
    }

    [Fact]
    public void WrongFieldCountNamesTheLine()
    {
        string text = Line(pixel: 1, label: 1) + "\n" + string.Join(',', Enumerable.Repeat("0", 10)) + "\n";
        var e = Assert.Throws<DataFormatException>(() => Digits.Read<float>(Gzip(text), Source));
        Assert.Contains(Source, e.Message);
        Assert.Contains("line 2", e.Message);
        Assert.Contains("found 10", e.Message);
    }

    [Theory]
    [InlineData(5, "17", "pixel 5", "'17'")]
    [InlineData(0, "-1", "pixel 0", "'-1'")]
    [InlineData(63, "abc", "pixel 63", "'abc'")]
    [InlineData(64, "10", "label", "'10'")]
    [InlineData(64, "abc", "label", "'abc'")]
    [InlineData(64, "2.5", "label", "'2.5'")]
    public void BadValueNamesLineFieldAndValue(int field, string value, string what, string quoted)
    {
        var fields = Line(pixel: 2, label: 7).Split(',');
        fields[field] = value;
        // A blank first line: line numbers count every line of the file.
        string text = "\n" + Line(pixel: 2, label: 7) + "\n" + string.Join(',', fields) + "\n";
        var e = Assert.Throws<DataFormatException>(() => Digits.Read<float>(Gzip(text), Source));
        Assert.Contains(Source, e.Message);
        Assert.Contains("line 3", e.Message);
        Assert.Contains(what, e.Message);
        Assert.Contains(quoted, e.Message);
    }

    [Fact]
    public void EmptyContentIsAnError()
    {
        var e = Assert.Throws<DataFormatException>(() => Digits.Read<float>(Gzip(""), Source));
        Assert.Contains(Source, e.Message);
        Assert.Contains("no samples", e.Message);
        Assert.Throws<DataFormatException>(() => Digits.Read<float>(Gzip("\n\n"), Source));
    }

    [Fact]
    public void EmptyStreamIsAnError()
    {
        var e = Assert.Throws<DataFormatException>(() => Digits.Read<float>(new MemoryStream(), Source));
        Assert.Contains(Source, e.Message);
    }

    [Fact]
    public void TruncatedGzipIsAnError()
    {
        var full = Gzip(string.Concat(Enumerable.Repeat(Line(pixel: 3, label: 2) + "\n", 50))).ToArray();
        var truncated = new MemoryStream(full[..(full.Length / 2)]);
        var e = Assert.Throws<DataFormatException>(() => Digits.Read<float>(truncated, Source));
        Assert.Contains(Source, e.Message);
    }

    // 64 pixels (the first is `pixel`, then 8, then the rest 0..16 cycling) and a label.
    private static string Line(int pixel, int label) =>
        string.Join(',', new[] { pixel, 8 }.Concat(Enumerable.Range(2, 62).Select(i => i % 17)).Append(label));

    private static MemoryStream Gzip(string text)
    {
        var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
            gzip.Write(Encoding.UTF8.GetBytes(text));
        compressed.Position = 0;
        return compressed;
    }
}
