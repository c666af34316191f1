using System.Globalization;
using ScratchNet.Training;

namespace ScratchNet.Tests.Training;

/// <summary><see cref="EpochStats.ToReportLine"/>: the report's tab-separated line, culture-invariant, and parseable.</summary>
public class EpochStatsTests
{
    [Fact]
    public void ReportLineHasTheExactFormat()
    {
        var stats = new EpochStats(3, 0.1234, 0.5, 1e-5, 1, 2.5);
        Assert.Equal("E: 3\ttL: 0.1234\ttA: 0.5\tvL: 1E-05\tvA: 1\ts: 2.500", stats.ToReportLine());
    }

    [Fact]
    public void EpochBeforeTrainingIsMinusOne() =>
        Assert.StartsWith("E: -1\ttL: ", new EpochStats(-1, 2, 0.1, 2, 0.1, 0).ToReportLine());

    [Fact]
    public void ReportLineParsesBackExactly()
    {
        var rng = new Rng(17);
        for (int i = 0; i < 200; i++)
        {
            var stats = new EpochStats(i - 1, rng.NextDouble() * 10, rng.NextDouble(), Math.Exp(20 * rng.NextNormal()), rng.NextDouble(), rng.NextDouble() * 100);
            var parsed = Parse(stats.ToReportLine());
            Assert.Equal(stats with { Seconds = 0 }, parsed with { Seconds = 0 });
            Assert.Equal(stats.Seconds, parsed.Seconds, 0.0005 + 1e-12);  // written with 3 decimals
        }
    }

    [Fact]
    public void ReportLineIgnoresTheCurrentCulture()
    {
        var previous = CultureInfo.CurrentCulture;
        var commaDecimal = (CultureInfo)CultureInfo.InvariantCulture.Clone();
        commaDecimal.NumberFormat.NumberDecimalSeparator = ",";
        commaDecimal.NumberFormat.NegativeSign = "~";
        try
        {
            CultureInfo.CurrentCulture = commaDecimal;
            Assert.Equal("E: -1\ttL: 0.25\ttA: 0.75\tvL: -0.5\tvA: 0.125\ts: 1.250", new EpochStats(-1, 0.25, 0.75, -0.5, 0.125, 1.25).ToReportLine());
        }
        finally
        {
            CultureInfo.CurrentCulture = previous;
        }
    }

    [Fact]
    public void NonFiniteLossIsWritten() =>
        Assert.Contains("tL: NaN\t", new EpochStats(0, double.NaN, 0, double.PositiveInfinity, 0, 0).ToReportLine());

    // Parses "E: n\ttL: …\ttA: …\tvL: …\tvA: …\ts: …", requiring exactly these keys in this order.
    private static EpochStats Parse(string line)
    {
        string[] keys = ["E", "tL", "tA", "vL", "vA", "s"];
        var fields = line.Split('\t');
        Assert.Equal(keys.Length, fields.Length);
        var values = new double[keys.Length];
        for (int i = 0; i < keys.Length; i++)
        {
            Assert.StartsWith(keys[i] + ": ", fields[i]);
            values[i] = double.Parse(fields[i][(keys[i].Length + 2)..], NumberStyles.Float, CultureInfo.InvariantCulture);
        }
        return new EpochStats((int)values[0], values[1], values[2], values[3], values[4], values[5]);
    }
}
