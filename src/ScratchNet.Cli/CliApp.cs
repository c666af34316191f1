using System.CommandLine;
using ScratchNet.Cli.Commands;

namespace ScratchNet.Cli;

/// <summary>
/// The <c>scratchnet</c> command line. Errors, whether in the options or during a run, end as one
/// line on the error writer and a non-zero exit code, never a stack trace.
/// </summary>
public static class CliApp
{
    /// <summary>Exit code for bad options or values.</summary>
    public const int UsageError = 2;

    /// <summary>Exit code for a run that failed (bad data, divergence, I/O).</summary>
    public const int RunError = 1;

    /// <summary>Parses <paramref name="args"/> and runs the chosen command, writing to the given writers.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var root = new RootCommand("ScratchNet: neural networks with hand-derived gradients, trained on the CPU or an NVIDIA GPU.");
        root.Subcommands.Add(TrainCommand.Create(output, error));
        root.Subcommands.Add(DataCommand.Create(output, error));
        root.Subcommands.Add(ExportCommand.Create(output));
        root.Subcommands.Add(EvaluateCommand.Create(output, error));
        root.Subcommands.Add(PredictCommand.Create(output));
        root.Subcommands.Add(PlotCommand.Create(output));
        root.Subcommands.Add(ReportCommand.Create(output, error));
        root.Subcommands.Add(InfoCommand.Create(output));

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            string command = string.Join(' ', new[] { "scratchnet" }.Concat(CommandPath(parse)));
            error.WriteLine($"error: {parse.Errors[0].Message.ReplaceLineEndings(" ")} (see '{command} --help')");
            return UsageError;
        }
        try
        {
            return parse.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        catch (UsageException e)
        {
            error.WriteLine($"error: {e.Message}");
            return UsageError;
        }
        catch (Exception e) when (e is ScratchNetException or IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            error.WriteLine($"error: {e.Message}");
            return RunError;
        }
        catch (OutOfMemoryException)
        {
            error.WriteLine("error: out of memory (a smaller --batch-size, model or dataset needs less)");
            return RunError;
        }
        catch (Exception e)
        {
            // Whatever was not foreseen still ends as one line, never a stack trace: the type says where to look.
            error.WriteLine($"error: internal error ({e.GetType().Name}): {e.Message.ReplaceLineEndings(" ")}");
            return RunError;
        }
    }

    private static IEnumerable<string> CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var result = parse.CommandResult; result.Parent is System.CommandLine.Parsing.CommandResult parent; result = parent)
            names.Insert(0, result.Command.Name);
        return names;
    }
}

/// <summary>An option value that parsed but makes no sense (e.g. <c>--epochs -3</c>); reported as a usage error.</summary>
public sealed class UsageException(string message) : Exception(message);
