using ScratchNet.Cli.Commands;
using ScratchNet.Tests.DataFormats;

namespace ScratchNet.Tests.Cli;

/// <summary>The built <c>scratchnet</c> run as a child process with its output redirected, as in a log or a pipe.</summary>
public sealed class CtrlCTests
{
    [Fact]
    public async Task CtrlCStopsAfterTheCurrentBatchSavesTheRunAndExits130()
    {
        if (!ChildCli.Supported) return; // SIGINT is POSIX
        using var temp = new TempFolder();
        string run = Path.Combine(temp.Path, "run");
        // Far more epochs than the test waits for (a few ms each): only Ctrl-C ends it. It is pressed after a few
        // epochs, so that there is a history to keep.
        var (exitCode, lines, error) = await ChildCli.RunUntil(["train", "--dataset", "linear", "--epochs", "100000", "--threads", "1", "--out", run], "E: 2\t",
            process =>
            {
                ChildCli.Signal(process, ChildCli.SigInt);
                return Task.CompletedTask;
            });
        string output = string.Join('\n', lines);

        Assert.True(exitCode == TrainCommand.Interrupted, $"exit {exitCode}\n{error}\n{output}");
        Assert.DoesNotContain('\x1b', output); // redirected: the plain lines only, no escape codes
        Assert.DoesNotContain('\x1b', error);
        Assert.Contains("# interrupted after ", output);

        // Every epoch line printed is in history.csv, and the CSV has nothing else.
        string[] epochLines = [.. lines.Where(l => l.StartsWith("E: ", StringComparison.Ordinal))];
        string[] csv = File.ReadAllLines(Path.Combine(run, "history.csv"));
        Assert.Equal(ScratchNet.Training.History.CsvHeader, csv[0]);
        Assert.Equal(epochLines.Length, csv.Length - 1);
        Assert.InRange(epochLines.Length, 4, 100_000);
        for (int i = 0; i < epochLines.Length; i++)
            Assert.Equal(epochLines[i].Split('\t').Select(f => f[(f.IndexOf(':') + 2)..]), csv[i + 1].Split(','));

        var network = Network<float>.Load(Path.Combine(run, "model.safetensors"));
        Assert.Equal((2, 2), (network.Inputs, network.Outputs));
        Assert.Contains("(interrupted by a signal", File.ReadAllText(Path.Combine(run, "summary.md")));
        foreach (string file in (string[])["config.json", "history.json", "curves.png", "curves.svg"])
            Assert.True(File.Exists(Path.Combine(run, file)), file);
    }
}
