using System.Diagnostics;
using System.Runtime.InteropServices;

namespace ScratchNet.Tests.Cli;

/// <summary>The built <c>scratchnet</c> run as a child process with its output redirected, and POSIX signals sent to it.</summary>
internal static partial class ChildCli
{
    public const int SigHup = 1, SigInt = 2, SigTerm = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>Whether signals can be sent here (POSIX).</summary>
    public static bool Supported => OperatingSystem.IsLinux() || OperatingSystem.IsMacOS();

    public static ProcessStartInfo StartInfo(params string[] args)
    {
        string cli = Path.Combine(AppContext.BaseDirectory, "ScratchNet.Cli.dll");
        string dotnet = BuildOutputs.Dotnet;
        // A shell that starts a job in the background hands it SIGINT ignored, and .NET keeps an ignored SIGINT
        // ignored: env --default-signal restores the defaults so the CLI can install its handlers.
        return new ProcessStartInfo("env", ["--default-signal", dotnet, cli, .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
    }

    public static void Signal(Process process, int signal) =>
        Assert.True(Kill(process.Id, signal) == 0 || process.HasExited, $"kill failed: errno {Marshal.GetLastPInvokeError()}");

    /// <summary>
    /// Starts the CLI, reads its standard output until a line starts with <paramref name="until"/>, calls <paramref name="then"/>,
    /// and waits for the exit. Returns the exit code, the output lines and standard error.
    /// </summary>
    public static async Task<(int ExitCode, List<string> Lines, string Error)> RunUntil(string[] args, string until, Func<Process, Task> then, int timeoutSeconds = 120)
    {
        using var process = Process.Start(StartInfo(args))!;
        var stderr = process.StandardError.ReadToEndAsync();
        var lines = new List<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        try
        {
            while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                lines.Add(line);
                if (line.StartsWith(until, StringComparison.Ordinal)) break;
            }
            var rest = Task.Run(async () =>
            {
                while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line) lock (lines) lines.Add(line);
            });
            await then(process);
            await rest;
            await process.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        return (process.ExitCode, lines, await stderr);
    }
}
