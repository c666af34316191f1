using System.Diagnostics;
using System.Runtime.InteropServices;
using ScratchNet.Cli.Commands;
using ScratchNet.Tests.DataFormats;

namespace ScratchNet.Tests.Cli;

/// <summary>The built <c>scratchnet</c> run as a child process with its output redirected, as in a log or a pipe.</summary>
public sealed partial class CtrlCTests
{
    private const int SigInt = 2;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    private static ProcessStartInfo Cli(params string[] args)
    {
        string cli = Path.Combine(AppContext.BaseDirectory, "ScratchNet.Cli.dll");
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        // A shell that starts a job in the background hands it SIGINT ignored, and .NET keeps an ignored SIGINT
        // ignored: env --default-signal restores the default so the CLI can install its Ctrl-C handler.
        return new ProcessStartInfo("env", ["--default-signal=INT", dotnet, cli, .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
    }

    [Fact]
    public async Task CtrlCStopsAfterTheCurrentBatchSavesTheRunAndExits130()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return; // SIGINT is POSIX
        using var temp = new TempFolder();
        string run = Path.Combine(temp.Path, "run");
        // Far more epochs than the test waits for (a few ms each): only Ctrl-C ends it.
        using var process = Process.Start(Cli("train", "--dataset", "linear", "--epochs", "100000", "--threads", "1", "--out", run))!;
        var stderr = process.StandardError.ReadToEndAsync();
        var lines = new List<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try
        {
            // Wait for a few epochs, so that there is a history to keep, then press Ctrl-C.
            while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                lines.Add(line);
                if (line.StartsWith("E: 2\t", StringComparison.Ordinal)) break;
            }
            Assert.True(Kill(process.Id, SigInt) == 0, $"kill failed: errno {Marshal.GetLastPInvokeError()}");
            while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line) lines.Add(line);
            await process.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        string output = string.Join('\n', lines);

        Assert.True(process.ExitCode == TrainCommand.Interrupted, $"exit {process.ExitCode}\n{await stderr}\n{output}");
        Assert.DoesNotContain('\x1b', output); // redirected: the plain lines only, no escape codes
        Assert.DoesNotContain('\x1b', await stderr);
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
        Assert.Contains("(interrupted by Ctrl-C)", File.ReadAllText(Path.Combine(run, "summary.md")));
        foreach (string file in (string[])["config.json", "history.json", "curves.png", "curves.svg"])
            Assert.True(File.Exists(Path.Combine(run, file)), file);
    }
}
