using System.Diagnostics;

namespace ScratchNet.Tests.Bench;

/// <summary>The bench's command line: help, and one clear line with exit code 2 for what it cannot run (never a benchmark started by mistake).</summary>
public class BenchArgumentsTests
{
    private static string Bench => BuildOutputs.Of("bench/ScratchNet.Bench", "ScratchNet.Bench.dll");

    private static (int ExitCode, string Output, string Error) Run(params string[] args)
    {
        var start = new ProcessStartInfo(BuildOutputs.Dotnet, [Bench, .. args]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(60_000), $"bench {string.Join(' ', args)} did not exit within a minute");
        return (process.ExitCode, output.Result, error.Result);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("conv", "--help")]
    [InlineData("-h")]
    public void HelpPrintsTheUsageAndRunsNothing(params string[] args)
    {
        var (code, output, error) = Run(args);
        Assert.Equal(0, code);
        Assert.StartsWith("usage: ScratchNet.Bench", output);
        Assert.DoesNotContain("\"suite\"", output);
        Assert.Equal("", error);
    }

    [Theory]
    [InlineData("--frobnicate: unknown option", "conv", "--frobnicate")]
    [InlineData("--threads: \"two\" is not a positive whole number", "conv", "--threads", "two")]
    [InlineData("--batch: \"0\" is not a positive whole number", "conv", "--batch", "0")]
    [InlineData("--batch: give a positive whole number", "conv", "--batch")]
    [InlineData("--shape: give a role", "conv", "--shape")]
    [InlineData("--shape: no convolution of the recipe has a role containing \"block 9\"", "conv", "--shape", "block 9")]
    [InlineData("usage: ScratchNet.Bench", "convolutions")]
    public void BadArgumentsGetOneLineAndExitCodeTwo(string expected, params string[] args)
    {
        var (code, output, error) = Run(args);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.StartsWith(expected, error);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
        Assert.DoesNotContain("   at ", error);
    }
}
