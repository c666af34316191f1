using System.Text;
using ScratchNet.Cli.Commands;
using ScratchNet.Data.Formats;
using ScratchNet.Tests.Cli;
using ScratchNet.Tests.DataFormats;
using ScratchNet.Training;

namespace ScratchNet.Tests.Robustness;

/// <summary>
/// Issue 16, case 2 (and 13's NaN rows in predict): a non-finite input value is a data error naming the file
/// and the row, at load time, before anything trains; and a history with NaN is still written.
/// </summary>
public class NonFiniteInputTests
{
    private static byte[] CsvWith(string cell) =>
        Encoding.ASCII.GetBytes($"a,b,label\n0.5,1,0\n1.5,{cell},1\n2.5,3,0\n3.5,4,1\n");

    [Theory]
    [InlineData("1e39", "line 3, column 1 ('b'): '1e39' is not a finite float32 value")]
    [InlineData("NaN", "line 3, column 1 ('b'): 'NaN' is not a finite float32 value")]
    [InlineData("-Infinity", "line 3, column 1 ('b'): '-Infinity' is not a finite float32 value")]
    public void ACsvCellThatIsNotFiniteAsFloat32IsRefusedWithItsLine(string cell, string expected) =>
        Rejection.Assert("data.csv", CsvWith(cell), path => Csv.Read<float>(path), cell, expected);

    [Fact]
    public void ADoubleThatOverflowsOnlyFloat32LoadsAsFloat64()
    {
        using var folder = new TempFolder();
        string path = folder.Write("data.csv", CsvWith("1e39"));
        Assert.Equal(1e39, Csv.Read<double>(path).Features[1, 1]);
    }

    [Fact]
    public void ANaNInAnNpzIsRefusedWithItsSample()
    {
        byte[] npz = FormatBytes.Zip(false,
            ("x.npy", FormatBytes.Npy("<f8", false, [2, 3], FormatBytes.Doubles([1, 2, 3, 4, double.NaN, 6]))),
            ("y.npy", FormatBytes.Npy("<f4", false, [2, 3], FormatBytes.Floats([1, 0, 1, 0, 1, 0]))));
        Rejection.Assert("data.npz", npz, path => NpzDataset.Load<float>(path), "NaN in x", "array 'x', sample 1 (column 1; row 1 of the data), feature 1: 'NaN' is not a finite float32 value");
    }

    [Fact]
    public void TrainOnACsvWithAnInfinityFailsBeforeTrainingWithOneErrorLine()
    {
        using var folder = new TempFolder();
        string csv = folder.Write("data.csv", CsvWith("1e39"));
        string run = Path.Combine(folder.Path, "run");

        var (exit, output, error) = CliRunner.Run("train", "--dataset", $"csv:{csv}", "--epochs", "2", "--out", run);

        Assert.Equal(1, exit);
        Assert.Equal($"error: {csv}, line 3, column 1 ('b'): '1e39' is not a finite float32 value; input values must be finite (no NaN or infinity, nothing beyond ±3.4e38).", error.Trim());
        Assert.DoesNotContain("E: ", output);
    }

    [Fact]
    public void PredictRefusesANaNRow()
    {
        using var folder = new TempFolder();
        string model = Path.Combine(folder.Path, "model.safetensors");
        HeaderSubjects.Network().Save(model);
        string rows = folder.Write("rows.csv", Encoding.ASCII.GetBytes("0.5,1\nNaN,2\n"));

        var (exit, _, error) = CliRunner.Run("predict", "--model", model, rows);

        Assert.Equal(1, exit);
        Assert.StartsWith($"error: {rows}: line 2, column 0: 'NaN' is not a finite float32 value", error);
    }

    [Fact]
    public void AHistoryWithNaNIsWrittenAsJsonAndReadBack()
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, RunFolder.HistoryJson);
        var history = new History([new EpochStats(-1, 1, 0.5, 2, 0.5, 0), new EpochStats(0, double.NaN, 0.5, double.PositiveInfinity, 0.5, 1)]);

        HistoryFiles.WriteJson(history, path);

        var back = HistoryFiles.Read(path);
        Assert.True(double.IsNaN(back.Final.TrainLoss));
        Assert.Equal(double.PositiveInfinity, back.Final.ValidationLoss);
    }
}
