using System.Globalization;
using ScratchNet.Training;

namespace ScratchNet.Tests.Training;

/// <summary><see cref="History"/>: the CSV contract and its atomic write.</summary>
public class HistoryTests
{
    private static readonly History Sample = new(
    [
        new EpochStats(-1, 2.302585092994046, 0.1, 2.31, 0.0975, 0.0123),
        new EpochStats(0, 0.5, 0.875, 0.625, 0.8333333333333334, 1.5),
        new EpochStats(1, 1e-7, 1, 0.1, 0.95, 12.3456),
    ]);

    [Fact]
    public void CsvHeaderIsTheContract()
    {
        Assert.Equal("epoch,train_loss,train_acc,val_loss,val_acc,seconds", History.CsvHeader);
        Assert.StartsWith(History.CsvHeader + "\n", Sample.ToCsv());
    }

    [Fact]
    public void CsvRowsParseBackToTheEpochs()
    {
        var lines = Sample.ToCsv().Split('\n');
        Assert.Equal(Sample.Count + 2, lines.Length);   // header, rows, and the empty string after the final newline
        Assert.Equal("", lines[^1]);
        Assert.Equal("-1,2.302585092994046,0.1,2.31,0.0975,0.012", lines[1]);
        for (int i = 0; i < Sample.Count; i++)
        {
            var fields = lines[i + 1].Split(',').Select(f => double.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            var e = Sample[i];
            Assert.Equal([e.Epoch, e.TrainLoss, e.TrainAccuracy, e.ValidationLoss, e.ValidationAccuracy], fields[..5]);
            Assert.Equal(e.Seconds, fields[5], 0.0005 + 1e-12);
        }
    }

    [Fact]
    public void CsvIgnoresTheCurrentCulture()
    {
        var previous = CultureInfo.CurrentCulture;
        var commaDecimal = (CultureInfo)CultureInfo.InvariantCulture.Clone();
        commaDecimal.NumberFormat.NumberDecimalSeparator = ",";
        try
        {
            CultureInfo.CurrentCulture = commaDecimal;
            Assert.Equal(History.CsvHeader + "\n0,0.5,0.25,0.75,0.125,1.500\n", new History([new EpochStats(0, 0.5, 0.25, 0.75, 0.125, 1.5)]).ToCsv());
        }
        finally
        {
            CultureInfo.CurrentCulture = previous;
        }
    }

    [Fact]
    public void ListAccessAndFinal()
    {
        Assert.Equal(3, Sample.Count);
        Assert.Equal(-1, Sample[0].Epoch);
        Assert.Equal(1, Sample.Final.Epoch);
        Assert.Equal([-1, 0, 1], Sample.Select(e => e.Epoch));
        Assert.Throws<InvalidOperationException>(() => new History([]).Final);
        Assert.Equal(History.CsvHeader + "\n", new History([]).ToCsv());
    }

    [Fact]
    public void WriteCsvWritesOrReplacesTheFileAndLeavesNoTemporaryFile()
    {
        string directory = Path.Combine(Path.GetTempPath(), "scratchnet-history-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        try
        {
            string path = Path.Combine(directory, "history.csv");
            File.WriteAllText(path, "old content that is longer than the new one, which must not survive as a tail ............................................................................................................................................................");
            Sample.WriteCsv(path);
            Assert.Equal(Sample.ToCsv(), File.ReadAllText(path));
            new History([Sample[0]]).WriteCsv(path);
            Assert.Equal(new History([Sample[0]]).ToCsv(), File.ReadAllText(path));
            Assert.Equal(["history.csv"], Directory.GetFiles(directory).Select(Path.GetFileName));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void FailedWriteLeavesOldFileAndNoTemporaryFile()
    {
        string directory = Path.Combine(Path.GetTempPath(), "scratchnet-history-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        try
        {
            // The target is a directory, so the final rename fails after the temporary file was written.
            string target = Path.Combine(directory, "history.csv");
            Directory.CreateDirectory(target);
            Assert.ThrowsAny<IOException>(() => Sample.WriteCsv(target));
            Assert.Empty(Directory.GetFiles(directory));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
