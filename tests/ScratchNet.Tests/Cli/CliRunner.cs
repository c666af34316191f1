using ScratchNet.Cli;

namespace ScratchNet.Tests.Cli;

/// <summary>Runs the CLI in-process, as the tool's entry point does, and keeps what it wrote.</summary>
internal static class CliRunner
{
    public static (int ExitCode, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exitCode = CliApp.Run(args, output, error);
        return (exitCode, output.ToString(), error.ToString());
    }
}
