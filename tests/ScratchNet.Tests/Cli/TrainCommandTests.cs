using System.Globalization;
using ScratchNet.Cli;
using ScratchNet.Tests.DataFormats;
using ScratchNet.Training;

namespace ScratchNet.Tests.Cli;

// The CLI sets the global kernel thread count for the length of a run.
[Collection(GlobalStateCollection.Name)]
public sealed class TrainCommandTests : IDisposable
{
    private readonly TempFolder _runs = new();
    private int _runCount;

    public void Dispose() => _runs.Dispose();

    // Runs the CLI; a train run without --out gets a folder of its own under the test's temporary folder.
    private (int ExitCode, string Output, string Error) Run(params string[] args)
    {
        if (args is ["train", ..] && !args.Contains("--out")) args = [.. args, "--out", Path.Combine(_runs.Path, $"run{++_runCount}")];
        return CliRunner.Run(args);
    }

    private static string[] EpochLines(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("E: ", StringComparison.Ordinal)).ToArray();

    [Fact]
    public void DefaultRunTrainsDigitsWellAndPrintsReportLines()
    {
        var (exitCode, output, error) = Run("train");

        Assert.True(exitCode == 0, error);
        var lines = EpochLines(output);
        Assert.Equal(31, lines.Length); // E: -1, then the recipe's 30 epochs
        Assert.StartsWith("E: -1\ttL: ", lines[0]);
        var last = lines[^1].Split('\t');
        Assert.Equal(["E: 29", "tL", "tA", "vL", "vA", "s"], last.Select((f, i) => i == 0 ? f : f[..f.IndexOf(':')]));
        double validationAccuracy = double.Parse(last[4]["vA: ".Length..], CultureInfo.InvariantCulture);
        Assert.True(validationAccuracy >= 0.95, lines[^1]);
    }

    [Fact]
    public void OutWritesHistoryCsvMatchingTheEpochLines()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"scratchnet-cli-{Guid.NewGuid():N}");
        try
        {
            var (exitCode, output, error) = Run("train", "--dataset", "patterns", "--epochs", "3", "--out", dir, "--threads", "1");

            Assert.True(exitCode == 0, error);
            var csv = File.ReadAllLines(Path.Combine(dir, "history.csv"));
            Assert.Equal(History.CsvHeader, csv[0]);
            Assert.Equal(4, csv.Length - 1);
            var lines = EpochLines(output);
            for (int i = 0; i < lines.Length; i++)
            {
                var fromLine = lines[i].Split('\t').Select(f => f[(f.IndexOf(':') + 2)..]).ToArray();
                Assert.Equal(fromLine, csv[i + 1].Split(','));
            }
            Assert.Equal(["config.json", "curves.png", "curves.svg", "history.csv", "history.json", "model.safetensors", "summary.md"],
                Directory.GetFiles(dir).Select(Path.GetFileName).Order());
            var model = Network<float>.Load(Path.Combine(dir, "model.safetensors"));
            Assert.Contains($"network {model};", output);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void ReportLinearRecipeReachesTheReportsAccuracy()
    {
        var (exitCode, output, error) = Run("train", "--dataset", "linear", "--layers", "10", "--loss", "l2", "--reg", "0.01", "--lr", "0.001",
            "--epochs", "10", "--batch-size", "1", "--init", "0.05,0.05", "--seed", "3");

        Assert.True(exitCode == 0, error);
        var last = EpochLines(output)[^1].Split('\t');
        Assert.True(double.Parse(last[4]["vA: ".Length..], CultureInfo.InvariantCulture) >= 0.99, string.Join(' ', last));
    }

    [Fact]
    public void SameSeedGivesIdenticalEpochLinesAcrossThreadCounts()
    {
        static string[] Metrics(string output) => EpochLines(output).Select(l => l[..l.LastIndexOf("\ts: ", StringComparison.Ordinal)]).ToArray();
        string[] args = ["train", "--dataset", "square", "--epochs", "3", "--seed", "7"];

        var one = Run([.. args, "--threads", "1"]);
        var two = Run([.. args, "--threads", "2"]);
        var otherSeed = Run([.. args[..^1], "8", "--threads", "2"]);

        Assert.Equal(Metrics(one.Output), Metrics(two.Output));
        Assert.NotEqual(Metrics(one.Output), Metrics(otherSeed.Output));
    }

    [Theory]
    [InlineData("--epochs", "-3", "--epochs must be at least 1, got -3.")]
    [InlineData("--epochs", "abc", "--epochs: 'abc' is not a whole number.")]
    [InlineData("--batch-size", "0", "--batch-size must be at least 1")]
    [InlineData("--lr", "0", "--lr must be a finite number > 0")]
    [InlineData("--lr", "NaN", "--lr must be a finite number > 0")]
    [InlineData("--reg", "-1", "--reg must be a finite number ≥ 0")]
    [InlineData("--dataset", "imagenet", "--dataset: unknown value 'imagenet'")]
    [InlineData("--loss", "mse", "--loss: unknown value 'mse'")]
    [InlineData("--layers", "800,x", "--layers: 'x' is not a number")]
    [InlineData("--layers", "800,0", "--layers: '0' is not allowed")]
    [InlineData("--init", "0.1,0.2,0.3,0.4", "--init gives 4 weight scales but the network has 3 linear layers")]
    [InlineData("--threads", "0", "--threads must be at least 1")]
    [InlineData("--val-fraction", "1.5", "--val-fraction must lie strictly between 0 and 1")]
    [InlineData("--bogus", "1", "Unrecognized command or argument '--bogus'")]
    public void BadOptionsGetOneLineErrorAndUsageExitCode(string option, string value, string expected)
    {
        var (exitCode, output, error) = Run("train", option, value);

        Assert.Equal(CliApp.UsageError, exitCode);
        Assert.Contains(expected, error);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("   at ", error); // no stack trace
        Assert.Empty(EpochLines(output));
    }

    [Fact]
    public void DivergingRunFailsWithRunErrorNamingTheEpoch()
    {
        var (exitCode, _, error) = Run("train", "--dataset", "linear", "--lr", "1000", "--epochs", "3", "--init", "1,1");

        Assert.Equal(CliApp.RunError, exitCode);
        Assert.Matches(@"^error: Training diverged in epoch \d+", error);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void MissingCommandIsAUsageError()
    {
        var (exitCode, _, error) = Run();

        Assert.Equal(CliApp.UsageError, exitCode);
        Assert.StartsWith("error: ", error);
    }
}
