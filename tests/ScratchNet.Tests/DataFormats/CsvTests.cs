using System.Text;
using ScratchNet.Data;
using ScratchNet.Data.Formats;

namespace ScratchNet.Tests.DataFormats;

public class CsvTests
{
    private static string Write(TempFolder folder, string text, string name = "iris.csv") => folder.Write(name, Encoding.UTF8.GetBytes(text));

    [Fact]
    public void ReadsAHeaderedFileWithTheLabelLast()
    {
        using var folder = new TempFolder();
        string path = Write(folder, "sepal,petal,species\n5.1,1.4,0\n\n7.0,4.7,2\n6.3,6.0,1\n");

        var data = Csv.Read<double>(path);

        Assert.Equal("iris", data.Name);
        Assert.Equal([5.1, 1.4, 7.0, 4.7, 6.3, 6.0], data.Features.ToArray());
        Assert.Equal((3, 3), data.Targets.Shape); // classes: the largest label + 1
        Assert.Equal([0, 2, 1], Enumerable.Range(0, 3).Select(data.ClassOf));
    }

    [Theory]
    [InlineData("species", null)]
    [InlineData("0", null)]
    [InlineData("0", false)]
    public void TakesTheLabelColumnByNameOrIndex(string column, bool? header)
    {
        using var folder = new TempFolder();
        string text = header == false ? "1,0.5,0.25\n0,1e-3,-2\n" : "species,a,b\n1,0.5,0.25\n0,1e-3,-2\n";
        string path = Write(folder, text);

        var data = Csv.Read<float>(path, new CsvOptions(column, header));

        Assert.Equal([0.5f, 0.25f, 1e-3f, -2f], data.Features.ToArray());
        Assert.Equal([1, 0], Enumerable.Range(0, 2).Select(data.ClassOf));
    }

    [Fact]
    public void ReadsGzippedCsvLikeTheEmbeddedDigits()
    {
        using var folder = new TempFolder();
        string path = folder.Write("digits.csv.gz", FormatBytes.Gzip(Encoding.ASCII.GetBytes("0,16,3\n8,8,9\n")));

        var data = Csv.Read<float>(path);

        Assert.Equal("digits", data.Name);
        Assert.Equal([0f, 16, 8, 8], data.Features.ToArray());
        Assert.Equal(10, data.TargetCount);
    }

    [Fact]
    public void WriteThenReadRoundTrips()
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "out.csv");
        var source = new Dataset<double>("d", new Matrix<double>(2, 2, [0.1, 1.0 / 3, -5e-10, 7]), Dataset<double>.OneHot([1, 0], 2));

        Csv.Write(path, source);
        var back = Csv.Read<double>(path);

        Assert.Equal("f0,f1,label", File.ReadLines(path).First());
        Assert.Equal(source.Features.ToArray(), back.Features.ToArray()); // "R" keeps every bit
        Assert.Equal(source.Targets.ToArray(), back.Targets.ToArray());
    }

    public static TheoryData<string, string, CsvOptions, string> BadFiles => new()
    {
        { "short row", "a,b,label\n1,2,0\n3,1\n", new(), "line 3: 2 cells; expected 3, as on line 1." },
        { "long row, no header", "1,2,0\n1,2,3,1\n", new(), "line 2: 4 cells; expected 3, as on line 1." },
        { "text cell", "a,b,label\n1,2,0\n1,abc,1\n", new(), "line 3, column 1 ('b'): 'abc' is not a finite number." },
        { "infinite cell", "1,2,0\nInfinity,2,1\n", new(), "line 2, column 0: 'Infinity' is not a finite float32 value" },
        { "fractional label", "1,2,0.5\n", new(), "line 1, column 2 (the label): '0.5' is not a class index; expected an integer 0..65535." },
        { "negative label", "a,b,label\n1,2,-1\n", new(), "line 2, column 2 ('label') (the label): '-1' is not a class index" },
        { "huge label", "1,2,99999999\n", new(), "'99999999' is not a class index; expected an integer 0..65535." },
        { "unknown label column", "a,b,c\n1,2,0\n", new("species"), "no column 'species'; the header names a, b, c." },
        { "label index out of range", "1,2,0\n", new("3"), "label column 3 does not exist; the file has 3 columns (0..2)." },
        { "name without header", "1,2,0\n", new("species"), "the label column 'species' is a name but the file has no header" },
        { "one column", "1\n2\n", new(), "line 1: 1 column; expected features and a label" },
        { "header only", "a,b,label\n", new(), "no data rows" },
        { "empty", "", new(), "no data rows" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void MalformedFilesNameTheLineAndColumn(string what, string text, CsvOptions options, string expected)
    {
        Rejection.Assert("iris.csv", Encoding.UTF8.GetBytes(text), path => Csv.Read<float>(path, options), what, expected);
    }
}
