using System.Text.Json;
using ScratchNet.Tests.DataFormats;

namespace ScratchNet.Tests.Cli;

/// <summary>
/// Issue 16, cases 4, 11 and 12 (resume): the run folder is checked before anything trains, an earlier run's
/// checkpoint in it is not silently mixed with a new run, and a resume cannot shrink a run's epochs.
/// </summary>
public class RunFolderSafetyTests
{
    private static string[] Train(string run, params string[] more) =>
        ["train", "--dataset", "linear", "--epochs", "2", "--threads", "1", "--out", run, .. more];

    [Fact]
    public void AnOutFolderThatCannotBeWrittenFailsBeforeTraining()
    {
        using var folder = new TempFolder();
        string file = folder.Write("not-a-folder", [1]);
        var (exit, output, error) = CliRunner.Run(Train(Path.Combine(file, "run")));

        Assert.Equal(1, exit);
        Assert.StartsWith($"error: the run folder '{Path.Combine(file, "run")}' cannot be written, so nothing was trained: ", error);
        Assert.Single(error.Trim().Split('\n'));
        Assert.DoesNotContain("E: ", output);

        // A read-only folder, where permissions bind (not for root, who may write anywhere).
        if (OperatingSystem.IsWindows() || Environment.UserName == "root") return;
        string locked = Path.Combine(folder.Path, "locked");
        Directory.CreateDirectory(locked);
        File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        try
        {
            (exit, output, error) = CliRunner.Run(Train(locked));
            Assert.Equal(1, exit);
            Assert.Contains("cannot be written, so nothing was trained", error);
            Assert.DoesNotContain("E: ", output);
        }
        finally
        {
            File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    [Fact]
    public void AnEarlierRunsCheckpointIsKeptUnlessOverwriteIsGiven()
    {
        using var folder = new TempFolder();
        string run = Path.Combine(folder.Path, "run");
        Assert.Equal(0, CliRunner.Run(Train(run, "--checkpoint-every", "1")).ExitCode);
        string checkpoint = Path.Combine(run, "checkpoint.safetensors");
        byte[] before = File.ReadAllBytes(checkpoint);

        var (exit, output, error) = CliRunner.Run(Train(run, "--lr", "0.01"));
        Assert.Equal(2, exit);
        Assert.Equal($"error: --out '{run}' holds the checkpoint.safetensors of an earlier run: continue it with --resume {run}, or pass --overwrite to start over (its checkpoint is deleted, its other files replaced).", error.Trim());
        Assert.DoesNotContain("E: ", output);
        Assert.Equal(before, File.ReadAllBytes(checkpoint));

        Assert.Equal(2, CliRunner.Run("train", "--resume", run, "--overwrite").ExitCode);
        Assert.Equal(0, CliRunner.Run(Train(run, "--lr", "0.01", "--overwrite")).ExitCode);
        Assert.False(File.Exists(checkpoint));
        Assert.Equal(0.01, JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "config.json"))).RootElement.GetProperty("lr").GetDouble());
        Assert.Equal(2, CliRunner.Run("train", "--resume", run).ExitCode);   // nothing left to resume: the new run wrote no checkpoint
    }

    [Fact]
    public void ResumingWithFewerEpochsThanTrainedIsRefusedAndChangesNothing()
    {
        using var folder = new TempFolder();
        string run = Path.Combine(folder.Path, "run");
        Assert.Equal(0, CliRunner.Run(["train", "--dataset", "linear", "--epochs", "3", "--threads", "1", "--checkpoint-every", "1", "--out", run]).ExitCode);
        string config = File.ReadAllText(Path.Combine(run, "config.json"));

        var (exit, _, error) = CliRunner.Run("train", "--resume", run, "--epochs", "2");

        Assert.Equal(2, exit);
        Assert.Equal($"error: --epochs 2: the run in '{run}' has already trained 3 epochs; give a total of at least 3.", error.Trim());
        Assert.Equal(config, File.ReadAllText(Path.Combine(run, "config.json")));
        Assert.Equal(0, CliRunner.Run("train", "--resume", run, "--epochs", "4").ExitCode);
    }
}
