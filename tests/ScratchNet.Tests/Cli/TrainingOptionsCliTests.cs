using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ScratchNet.Cli;
using ScratchNet.Layers;
using ScratchNet.Tests.DataFormats;
using ScratchNet.Training;
using static ScratchNet.Tests.Cli.CliRunner;

namespace ScratchNet.Tests.Cli;

/// <summary>
/// <c>train</c>'s options beyond the report: optimiser, schedule, activation, dropout, initialiser, early stopping,
/// clipping, checkpoints and --resume, the NaN guard's exit; each lands in config.json.
/// </summary>
[Collection(GlobalStateCollection.Name)]
public sealed class TrainingOptionsCliTests : IDisposable
{
    private readonly TempFolder _runs = new();

    public void Dispose() => _runs.Dispose();

    private string Folder(string name) => Path.Combine(_runs.Path, name);

    [Fact]
    public void TheNewOptionsTrainAndLandInConfigJson()
    {
        string dir = Folder("adam");
        var (code, output, error) = Run("train", "--dataset", "digits", "--epochs", "4", "--threads", "1", "--out", dir,
            "--optimizer", "adamw", "--weight-decay", "0.001", "--lr", "0.003", "--schedule", "cosine", "--warmup", "1", "--clip-norm", "5",
            "--activation", "gelu", "--dropout", "0.1", "--init", "xavier-uniform", "--early-stopping", "3", "--monitor", "val_acc", "--checkpoint-every", "2", "--train-eval-rows", "40");

        Assert.True(code == 0, error + output);
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "config.json")));
        var root = config.RootElement;
        Assert.Equal("adamw", root.GetProperty("optimizer").GetString());
        Assert.Equal(0.001, root.GetProperty("weight_decay").GetDouble());
        Assert.Equal("cosine", root.GetProperty("schedule").GetString());
        Assert.Equal(1, root.GetProperty("warmup").GetInt32());
        Assert.Equal(5, root.GetProperty("clip_norm").GetDouble());
        Assert.Equal("gelu", root.GetProperty("activation").GetString());
        Assert.Equal(0.1, root.GetProperty("dropout").GetDouble());
        Assert.Equal("xavier-uniform", root.GetProperty("init_scheme").GetString());
        Assert.False(root.TryGetProperty("init", out _));
        Assert.Equal(3, root.GetProperty("early_stopping").GetInt32());
        Assert.Equal("val_acc", root.GetProperty("monitor").GetString());
        Assert.Equal(2, root.GetProperty("checkpoint_every").GetInt32());
        Assert.Equal(40, root.GetProperty("train_eval_rows").GetInt32());
        Assert.False(root.TryGetProperty("momentum", out _));   // does not apply to adamw
        Assert.True(File.Exists(Path.Combine(dir, "checkpoint.safetensors")));
        var net = Network<float>.Load(Path.Combine(dir, "model.safetensors"));
        Assert.Equal("64-128-64-10 linear gelu dropout linear gelu dropout linear softmax, ce", net.ToString());
        Assert.Contains("# the model holds the weights of epoch", output);
        var last = File.ReadAllLines(Path.Combine(dir, "history.csv"))[^1].Split(',');
        Assert.True(double.Parse(last[4], CultureInfo.InvariantCulture) > 0.9);
        double trainAccuracy = double.Parse(last[2], CultureInfo.InvariantCulture) * 40;   // measured on 40 rows
        Assert.Equal(Math.Round(trainAccuracy), trainAccuracy, 1e-9);
    }

    [Fact]
    public void AConfigFileWithTheNewFieldsRerunsTheSameRun()
    {
        string first = Folder("first"), second = Folder("second");
        var (code, _, error) = Run("train", "--dataset", "digits", "--epochs", "2", "--threads", "1", "--out", first,
            "--optimizer", "nesterov", "--momentum", "0.8", "--schedule", "step", "--step-size", "1", "--gamma", "0.5", "--activation", "tanh", "--init", "he");
        Assert.True(code == 0, error);
        (code, _, error) = Run("train", "--config", Path.Combine(first, "config.json"), "--out", second);
        Assert.True(code == 0, error);
        Assert.Equal(WithoutSeconds(Path.Combine(first, "history.csv")), WithoutSeconds(Path.Combine(second, "history.csv")));
        Assert.Equal(File.ReadAllText(Path.Combine(first, "config.json")), File.ReadAllText(Path.Combine(second, "config.json")));
    }

    [Fact]
    public void ResumeContinuesTheRunBitForBit()
    {
        string straight = Folder("straight"), resumed = Folder("resumed");
        string[] common = ["train", "--dataset", "digits", "--threads", "1", "--optimizer", "adam", "--lr", "0.002", "--schedule", "step", "--step-size", "2", "--dropout", "0.2"];
        var (code, _, error) = Run([.. common, "--epochs", "4", "--out", straight]);
        Assert.True(code == 0, error);
        (code, _, error) = Run([.. common, "--epochs", "2", "--out", resumed, "--checkpoint-every", "1"]);
        Assert.True(code == 0, error);
        (code, var output, error) = Run("train", "--resume", resumed, "--epochs", "4");
        Assert.True(code == 0, error);

        Assert.Contains("# resuming from", output);
        Assert.Equal(["E: 2", "E: 3"], output.Split('\n').Where(l => l.StartsWith("E: ", StringComparison.Ordinal)).Select(l => l.Split('\t')[0]));
        Assert.Equal(WithoutSeconds(Path.Combine(straight, "history.csv")), WithoutSeconds(Path.Combine(resumed, "history.csv")));
        var a = Network<float>.Load(Path.Combine(straight, "model.safetensors"));
        var b = Network<float>.Load(Path.Combine(resumed, "model.safetensors"));
        Assert.Equal(a.Parameters.SelectMany(p => p.Value.Span.ToArray()), b.Parameters.SelectMany(p => p.Value.Span.ToArray()));
    }

    [Theory]
    [InlineData("--optimizer adam --weight-decay 0.1", "--weight-decay")]
    [InlineData("--optimizer adam --momentum 0.9", "--momentum")]
    [InlineData("--warmup 2", "--warmup")]
    [InlineData("--schedule cosine --warmup 1", "--warmup")]
    [InlineData("--schedule exponential --step-size 3", "--step-size")]
    [InlineData("--schedule plateau --gamma 2", "--gamma")]
    [InlineData("--dropout 1", "--dropout")]
    [InlineData("--clip-norm 0", "--clip-norm")]
    [InlineData("--early-stopping 0", "--early-stopping")]
    [InlineData("--monitor val_acc", "--monitor")]
    [InlineData("--min-delta 0.1", "--min-delta")]
    [InlineData("--test", "--test")]
    [InlineData("--checkpoint-every 0", "--checkpoint-every")]
    [InlineData("--train-eval-rows 0", "--train-eval-rows")]
    [InlineData("--optimizer lbfgs", "--optimizer")]
    [InlineData("--activation swish", "--activation")]
    [InlineData("--init kaiming", "--init")]
    public void SettingsThatDoNotApplyOrAreOutOfRangeAreUsageErrors(string options, string named)
    {
        var (code, _, error) = Run(["train", "--dataset", "digits", "--epochs", "1", "--out", Folder("bad"), .. options.Split(' ')]);
        Assert.Equal(CliApp.UsageError, code);
        Assert.StartsWith("error: ", error);
        Assert.Contains(named, error);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Fact]
    public void ResumeRefusesOtherSettingsAndFoldersWithoutACheckpoint()
    {
        string dir = Folder("plain");
        Assert.Equal(0, Run("train", "--dataset", "patterns", "--epochs", "1", "--threads", "1", "--out", dir).ExitCode);
        var (code, _, error) = Run("train", "--resume", dir);
        Assert.Equal(CliApp.UsageError, code);
        Assert.Contains("--checkpoint-every", error);

        Assert.Equal(0, Run("train", "--dataset", "patterns", "--epochs", "1", "--threads", "1", "--out", dir, "--checkpoint-every", "1").ExitCode);
        (code, _, error) = Run("train", "--resume", dir, "--lr", "0.5");
        Assert.Equal(CliApp.UsageError, code);
        Assert.Contains("--lr", error);
    }

    [Fact]
    public void DivergenceExitsOneWithOneLineAndKeepsTheLastGoodModel()
    {
        string dir = Folder("diverge");
        var (code, output, error) = Run("train", "--dataset", "digits", "--epochs", "3", "--threads", "1", "--out", dir, "--lr", "1e6", "--batch-size", "8");
        Assert.Equal(CliApp.RunError, code);
        Assert.Matches(@"^error: Training diverged in epoch 0, batch \d+ of \d+: the batch loss is", error);
        Assert.Single(error.Trim().Split('\n'));
        var net = Network<float>.Load(Path.Combine(dir, "model.safetensors"));
        Assert.All(net.Parameters.SelectMany(p => p.Value.Span.ToArray()), v => Assert.True(float.IsFinite(v)));
        Assert.Equal(2, File.ReadAllLines(Path.Combine(dir, "history.csv")).Length);   // header and epoch -1
        Assert.Contains("E: -1", output);
    }

    [Fact]
    public void HistoriesWithATestSetRoundTripThroughCsvAndJson()
    {
        var history = new History([new EpochStats(-1, 2.3, 0.1, 2.31, 0.09, 0.5, 2.29, 0.11), new EpochStats(0, 0.5, 0.8, 0.6, 0.75, 1.25, 0.62, 0.74)], hasTestSet: true);
        string csv = Path.Combine(_runs.Path, "history.csv"), json = Path.Combine(_runs.Path, "history.json");
        history.WriteCsv(csv);
        ScratchNet.Cli.Commands.HistoryFiles.WriteJson(history, json);
        foreach (string file in new[] { csv, json })
        {
            var back = ScratchNet.Cli.Commands.HistoryFiles.Read(file);
            Assert.True(back.HasTestSet, file);
            Assert.Equal(history.Select(e => (e.Epoch, e.TrainLoss, e.ValidationAccuracy, e.TestLoss, e.TestAccuracy)),
                         back.Select(e => (e.Epoch, e.TrainLoss, e.ValidationAccuracy, e.TestLoss, e.TestAccuracy)));
        }
        Assert.Contains("\"test_acc\": 0.74", File.ReadAllText(json));
        var plain = new History([new EpochStats(0, 0.5, 0.8, 0.6, 0.75, 1.25)]);
        ScratchNet.Cli.Commands.HistoryFiles.WriteJson(plain, json);
        Assert.DoesNotContain("test_", File.ReadAllText(json));
        Assert.False(ScratchNet.Cli.Commands.HistoryFiles.Read(json).HasTestSet);
    }

    [Fact]
    public void EarlyStoppingEndsTheRunAndSaysSo()
    {
        var (code, output, error) = Run("train", "--dataset", "digits", "--epochs", "10", "--threads", "1", "--out", Folder("early"),
            "--early-stopping", "2", "--min-delta", "100");
        Assert.True(code == 0, error);
        Assert.Contains("# early stopping after epoch 2", output);
        Assert.Contains("# the model holds the weights of epoch 0", output);
    }

    /// <summary>
    /// The CLI, as a child process writing a checkpoint every epoch, is killed with SIGKILL while the checkpoint's
    /// temporary file exists (mid-write) and at random moments, at least eight times; each time the previous checkpoint still loads: the
    /// next child resumes from it (and writes a newer one), and a last resume loads it in full.
    /// </summary>
    [Fact]
    public void SigkillDuringACheckpointWriteLeavesThePreviousCheckpointLoadable()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        string dir = Folder("killed");
        string checkpoint = Path.Combine(dir, "checkpoint.safetensors");
        string cli = Path.Combine(AppContext.BaseDirectory, "ScratchNet.Cli.dll");
        var random = new Random(5);
        int midWrite = 0;
        // Eight rounds, more (up to 16) until at least three kills have landed mid-write.
        for (int round = 0; round < 16 && (round < 8 || midWrite < 3); round++)
        {
            string[] args = round == 0
                ? ["train", "--dataset", "digits", "--layers", "1000,1000", "--optimizer", "adam", "--lr", "1e-4", "--batch-size", "256", "--epochs", "100000",
                   "--checkpoint-every", "1", "--threads", "1", "--out", dir]
                : ["train", "--resume", dir, "--epochs", "100000"];
            DateTime before = File.Exists(checkpoint) ? File.GetLastWriteTimeUtc(checkpoint) : DateTime.MinValue;
            using var child = Start(cli, args);
            var clock = Stopwatch.StartNew();
            // Wait for this child to write a checkpoint of its own: it loaded the previous one and trains.
            while (!(File.Exists(checkpoint) && File.GetLastWriteTimeUtc(checkpoint) > before))
            {
                if (child.HasExited) Assert.Fail($"round {round}: the CLI exited with {child.ExitCode}: {child.StandardError.ReadToEnd()}");
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"round {round}: no checkpoint within a minute");
                Thread.Sleep(2);
            }
            if (round % 2 == 0)
            {
                // Kill as soon as the next write has begun: its temporary file exists.
                while (!Directory.EnumerateFiles(dir, "*.tmp").Any() && clock.Elapsed < TimeSpan.FromSeconds(60)) Thread.Sleep(1);
            }
            else
            {
                Thread.Sleep(random.Next(0, 400));
            }
            child.Kill(entireProcessTree: true);   // SIGKILL on Unix
            child.WaitForExit();
            // A write cut short leaves its temporary file; clear it so the next round watches for a fresh one.
            var leftovers = Directory.EnumerateFiles(dir, "*.tmp").ToList();
            if (leftovers.Count > 0) midWrite++;
            leftovers.ForEach(File.Delete);
            Assert.NotNull(Checkpoint.ReadConfig(checkpoint));
        }
        Assert.True(midWrite >= 3, $"only {midWrite} kills landed during a write");

        // A resume with nothing left to train (a total of the epochs done) loads the whole checkpoint and ends normally.
        using var state = System.Text.Json.JsonDocument.Parse(Network<float>.ReadMetadata(checkpoint)["checkpoint"]);
        string done = state.RootElement.GetProperty("next_epoch").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var last = Start(cli, ["train", "--resume", dir, "--epochs", done, "--threads", "1"]);
        string stderr = last.StandardError.ReadToEnd();
        last.WaitForExit();
        Assert.True(last.ExitCode == 0, stderr);
    }

    private static Process Start(string cli, string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = false, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(cli);
        foreach (string arg in args) start.ArgumentList.Add(arg);
        return Process.Start(start)!;
    }

    // The history's rows without the seconds column.
    private static string[] WithoutSeconds(string csv) =>
        [.. File.ReadAllLines(csv).Select(l => string.Join(',', l.Split(',').Where((_, i) => i != 5)))];
}
