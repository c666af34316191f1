using ScratchNet.Tests.DataFormats;

namespace ScratchNet.Tests.Cli;

/// <summary>
/// Issue 16, cases 3 and 10: SIGTERM and SIGHUP stop a run as Ctrl-C does (after the batch, everything saved,
/// checkpoint included) with exit 143 and 129; signals that arrive while the run stops and saves are held, so the
/// save completes and no temporary file is left behind.
/// </summary>
public sealed class SignalTests
{
    [Theory]
    [InlineData(ChildCli.SigTerm)]
    [InlineData(ChildCli.SigHup)]
    public async Task TermAndHupStopAfterTheBatchSaveEverythingAndExitWith128PlusTheSignal(int signal)
    {
        if (!ChildCli.Supported) return;
        using var temp = new TempFolder();
        string run = Path.Combine(temp.Path, "run");
        var (exitCode, lines, error) = await ChildCli.RunUntil(
            ["train", "--dataset", "linear", "--epochs", "100000", "--threads", "1", "--checkpoint-every", "100000", "--out", run], "E: 1\t",
            process =>
            {
                ChildCli.Signal(process, signal);
                return Task.CompletedTask;
            });

        Assert.True(exitCode == 128 + signal, $"exit {exitCode}\n{error}\n{string.Join('\n', lines)}");
        Assert.Contains(lines, l => l.StartsWith("# interrupted after ", StringComparison.Ordinal));
        AssertSaved(run, lines);
        Assert.True(File.Exists(Path.Combine(run, "checkpoint.safetensors")));
    }

    [Fact]
    public async Task SignalsDuringTheSaveAreHeldUntilItIsDone()
    {
        if (!ChildCli.Supported) return;
        using var temp = new TempFolder();
        string run = Path.Combine(temp.Path, "run");
        var (exitCode, lines, error) = await ChildCli.RunUntil(
            ["train", "--dataset", "linear", "--epochs", "100000", "--threads", "1", "--out", run], "E: 1\t",
            async process =>
            {
                // The first Ctrl-C stops the run; the next ones keep coming, every few milliseconds, while it saves.
                while (!process.HasExited)
                {
                    ChildCli.Signal(process, ChildCli.SigInt);
                    await Task.Delay(3);
                }
            });

        Assert.True(exitCode == 130, $"exit {exitCode}\n{error}\n{string.Join('\n', lines)}");
        Assert.Contains("SIGINT held: the run is stopping and saving", error);
        AssertSaved(run, lines);
    }

    // The run folder is whole: the model loads, the history holds every epoch printed, nothing temporary is left.
    private static void AssertSaved(string run, List<string> lines)
    {
        Assert.Equal((2, 2), (Network<float>.Load(Path.Combine(run, "model.safetensors")) is var n ? (n.Inputs, n.Outputs) : default));
        int epochs = lines.Count(l => l.StartsWith("E: ", StringComparison.Ordinal));
        Assert.Equal(epochs + 1, File.ReadAllLines(Path.Combine(run, "history.csv")).Length);
        foreach (string file in (string[])["config.json", "history.json", "curves.png", "curves.svg", "summary.md"])
            Assert.True(File.Exists(Path.Combine(run, file)), file);
        Assert.Empty(Directory.EnumerateFiles(run, "*.tmp"));
    }
}
