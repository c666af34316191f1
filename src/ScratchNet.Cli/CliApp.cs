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
        // Under an MPI launcher every rank runs this; rank 0 alone prints. A fault of one rank alone is reported by that
        // rank, naming it, when it ends the job (MpiRun); what every rank meets alike (a usage error) rank 0 reports.
        if (ScratchNet.Mpi.MpiLaunch.Current.Secondary)
        {
            output = TextWriter.Null;
            error = TextWriter.Null;
        }
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
        if (args.Length > 0 && !args[0].StartsWith('-') && root.Subcommands.All(c => c.Name != args[0]))
        {
            // "scratchnet trian": name the word and the nearest command, not "Required command was not provided".
            string? nearest = root.Subcommands.Select(c => c.Name).MinBy(name => Distance(name, args[0]));
            string hint = nearest is not null && Distance(nearest, args[0]) <= 2 ? $"; did you mean '{nearest}'?" : "";
            error.WriteLine($"error: unknown command '{args[0]}'{hint} Commands: {string.Join(", ", root.Subcommands.Select(c => c.Name))} (see 'scratchnet --help')");
            return UsageError;
        }
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
            // NotSupportedException: e.g. a layer with no ONNX form. An ArgumentException's message ends in " (Parameter 'name')", which names a C# parameter, not anything the user gave.
            string message = e is ArgumentException { ParamName: { } name } ? e.Message.Replace($" (Parameter '{name}')", "") : e.Message;
            error.WriteLine($"error: {message.ReplaceLineEndings(" ")}");
            return RunError;
        }
        catch (OutOfMemoryException e)
        {
            // Memory.While names what was being allocated; an allocation elsewhere gets the runtime's message.
            error.WriteLine(e is InsufficientMemoryException ? $"error: {e.Message}" : $"error: out of memory ({e.Message}); a smaller dataset, network or batch needs less.");
            return RunError;
        }
        catch (Exception e)
        {
            // Whatever was not foreseen still ends as one line, never a stack trace: the type says where to look.
            error.WriteLine($"error: internal error ({e.GetType().Name}): {e.Message.ReplaceLineEndings(" ")}");
            return RunError;
        }
    }

    // Levenshtein distance: the edits that turn a into b.
    private static int Distance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (int i = 1; i <= a.Length; i++)
        {
            int diagonal = row[0];
            row[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }
        return row[b.Length];
    }

    private static IEnumerable<string> CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var result = parse.CommandResult; result.Parent is System.CommandLine.Parsing.CommandResult parent; result = parent)
            names.Insert(0, result.Command.Name);
        return names;
    }
}

/// <summary>Runs an allocation-heavy step; running out of memory in it becomes an error that names the step.</summary>
internal static class Memory
{
    /// <summary>Runs <paramref name="step"/>; an <see cref="OutOfMemoryException"/> in it is rethrown naming <paramref name="what"/> (e.g. "loading fashion-mnist").</summary>
    /// <exception cref="InsufficientMemoryException">The step ran out of memory.</exception>
    public static T While<T>(string what, Func<T> step)
    {
        try { return step(); }
        catch (OutOfMemoryException e) when (e is not InsufficientMemoryException)
        {
            throw new InsufficientMemoryException($"out of memory while {what}; a smaller dataset, network or batch needs less.", e);
        }
    }
}

/// <summary>An option value that parsed but makes no sense (e.g. <c>--epochs -3</c>); reported as a usage error.</summary>
public sealed class UsageException(string message) : Exception(message);
