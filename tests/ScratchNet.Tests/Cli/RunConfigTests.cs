using System.Text.Json;
using ScratchNet.Cli;
using ScratchNet.Cli.Commands;
using ScratchNet.Tests.DataFormats;
using ScratchNet.Training;
using static ScratchNet.Tests.Cli.CliRunner;

namespace ScratchNet.Tests.Cli;

// The CLI sets the global kernel thread count for the length of a run.
[Collection(GlobalStateCollection.Name)]
public sealed class RunConfigTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    // The history without the seconds column, which is the only part that differs between identical runs.
    private static string[] Metrics(string runFolder) =>
        [.. File.ReadAllLines(Path.Combine(runFolder, "history.csv")).Select(l => l[..l.LastIndexOf(',')])];

    private string WriteConfig(string json) => _temp.Write($"config-{Guid.NewGuid():N}.json", System.Text.Encoding.UTF8.GetBytes(json));

    [Fact]
    public void TrainWithTheWrittenConfigReproducesTheSameHistoryAndConfig()
    {
        string first = Path.Combine(_temp.Path, "first"), second = Path.Combine(_temp.Path, "second");
        var run = Run("train", "--dataset", "square", "--epochs", "3", "--seed", "5", "--layers", "16", "--threads", "1", "--out", first);
        Assert.True(run.ExitCode == 0, run.Error);

        var again = Run("train", "--config", Path.Combine(first, "config.json"), "--out", second);

        Assert.True(again.ExitCode == 0, again.Error);
        Assert.Equal(Metrics(first), Metrics(second));
        Assert.Equal(File.ReadAllText(Path.Combine(first, "config.json")), File.ReadAllText(Path.Combine(second, "config.json")));
        var config = RunConfig.Read(Path.Combine(first, "config.json"));
        Assert.Equal(("square", 3, 5ul, 1), (config.Dataset, config.Epochs, config.Seed, config.Threads));
        Assert.Equal([16], config.Layers!);
        Assert.Equal(2, config.Init!.Length); // He scales written out as numbers
    }

    [Fact]
    public void CommandLineOptionsOverrideTheFile()
    {
        string config = WriteConfig("""{ "dataset": "patterns", "epochs": 3, "seed": 2, "lr": 0.05 }""");
        string folder = Path.Combine(_temp.Path, "run");

        var (exitCode, output, error) = Run("train", "--config", config, "--epochs", "1", "--threads", "1", "--out", folder);

        Assert.True(exitCode == 0, error);
        Assert.Equal(2, Lines(output).Count(l => l.StartsWith("E: ", StringComparison.Ordinal))); // E: -1 and E: 0
        var written = RunConfig.Read(Path.Combine(folder, "config.json"));
        Assert.Equal(("patterns", 1, 2ul, 0.05), (written.Dataset, written.Epochs, written.Seed, written.Lr));
    }

    [Theory]
    [InlineData("""{ "epochs": 2, "learning_rate": 0.1 }""", "unknown field 'learning_rate'")]
    [InlineData("""{ "epochs": "many" }""", "field 'epochs' is not valid")]
    [InlineData("""{ "epochs": 0 }""", "'epochs' in ")]
    [InlineData("""{ "loss": "hinge" }""", "unknown value 'hinge'")]
    [InlineData("""{ "dataset": "imagenet" }""", "unknown value 'imagenet'")]
    [InlineData("""[1, 2]""", "expected one JSON object")]
    [InlineData("""{ "epochs": 2,""", "the JSON is not valid")]
    public void BadConfigFilesAreOneLineUsageErrorsNamingTheFile(string json, string expected)
    {
        string config = WriteConfig(json);

        var (exitCode, output, error) = Run("train", "--config", config, "--out", Path.Combine(_temp.Path, "never"));

        Assert.Equal(CliApp.UsageError, exitCode);
        Assert.Contains(expected, error);
        Assert.Contains(config, error);
        Assert.Single(Lines(error));
        Assert.DoesNotContain("E: ", output);
        Assert.False(Directory.Exists(Path.Combine(_temp.Path, "never")));
    }

    [Fact]
    public void AMissingConfigFileIsAUsageError()
    {
        var (exitCode, _, error) = Run("train", "--config", Path.Combine(_temp.Path, "absent.json"));

        Assert.Equal(CliApp.UsageError, exitCode);
        Assert.StartsWith("error: --config: cannot read ", error);
        Assert.Contains("absent.json", error);
    }

    [Fact]
    public void RunFolderHoldsConfigHistoriesCurvesModelAndSummary()
    {
        string folder = Path.Combine(_temp.Path, "run");

        var (exitCode, output, error) = Run("train", "--dataset", "patterns", "--epochs", "2", "--threads", "1", "--out", folder);

        Assert.True(exitCode == 0, error);
        Assert.Equal(["config.json", "curves.png", "curves.svg", "history.csv", "history.json", "model.safetensors", "summary.md"],
            Directory.GetFiles(folder).Select(Path.GetFileName).Order());
        var fromCsv = HistoryFiles.Read(Path.Combine(folder, "history.csv"));
        var fromJson = HistoryFiles.Read(Path.Combine(folder, "history.json"));
        Assert.Equal(fromCsv.Select(e => e with { Seconds = 0 }), fromJson.Select(e => e with { Seconds = 0 }));
        Assert.Equal([-1, 0, 1], fromCsv.Select(e => e.Epoch));

        string summary = File.ReadAllText(Path.Combine(folder, "summary.md"));
        var final = fromCsv.Final;
        Assert.Contains($"| Final Validation Accuracy | {final.ValidationAccuracy.ToString("F3", System.Globalization.CultureInfo.InvariantCulture)} |", summary);
        Assert.Contains("| Final Training Loss |", summary);
        Assert.Matches(@"\| Wall time \| \d+\.\d s \|", summary);
        Assert.Matches(@"\| Training samples/s \| \d+ \|", summary);

        var metadata = Network<float>.ReadMetadata(Path.Combine(folder, "model.safetensors"));
        Assert.Equal("patterns", metadata["dataset"]);
        Assert.Equal(2, JsonDocument.Parse(metadata["train_config"]).RootElement.GetProperty("epochs").GetInt32());
        Assert.Contains($"# run folder: {folder}", output);
    }

    [Fact]
    public void DefaultRunFolderIsNamedAfterTheDatasetAndTimeAndNeverReused()
    {
        var when = new DateTime(2026, 11, 27, 8, 34, 5);
        string previous = Environment.CurrentDirectory;
        try
        {
            Environment.CurrentDirectory = _temp.Path;
            Assert.Equal(Path.Combine("runs", "fashion-mnist-20261127-083405"), RunFolder.DefaultPath("fashion-mnist", when));
            Assert.Equal(Path.Combine("runs", "csv-iris-20261127-083405"), RunFolder.DefaultPath("csv:data/iris.csv.gz", when));
            Directory.CreateDirectory(Path.Combine("runs", "digits-20261127-083405"));
            Assert.Equal(Path.Combine("runs", "digits-20261127-083405-2"), RunFolder.DefaultPath("digits", when));
        }
        finally
        {
            Environment.CurrentDirectory = previous;
        }
    }

    [Fact]
    public void HistoryFilesRejectAFileThatIsNoHistory()
    {
        string csv = _temp.Write("history.csv", "epoch,loss\n1,2\n"u8.ToArray());

        var e = Assert.Throws<DataFormatException>(() => HistoryFiles.Read(csv));
        Assert.Contains(csv, e.Message);
        Assert.Throws<UsageException>(() => HistoryFiles.Read(Path.Combine(_temp.Path, "no-such-run")));
    }

    [Fact]
    public void ModelMetadataCannotOverwriteTheArchitecture()
    {
        var network = new Network<float>(2, 2, Losses.Loss.L2);
        network.AddLinear(2);
        Assert.Throws<ArgumentException>(() => network.Save(Path.Combine(_temp.Path, "m.safetensors"), new Dictionary<string, string> { ["layers"] = "[]" }));
    }
}
