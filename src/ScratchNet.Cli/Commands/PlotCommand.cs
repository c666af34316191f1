using System.CommandLine;
using ScratchNet.Plots;
using ScratchNet.Training;

namespace ScratchNet.Cli.Commands;

/// <summary><c>scratchnet plot RUN…</c>: several runs' curves overlaid in one figure, the runs named in the legend.</summary>
public static class PlotCommand
{
    public static Command Create(TextWriter output)
    {
        var runs = new Argument<string[]>("RUN")
        {
            Description = "Run folders (with history.csv or history.json), or history files themselves.",
            Arity = ArgumentArity.OneOrMore,
        };
        var outPath = new Option<string?>("--out") { Description = "The figure to write: PNG, or SVG when the name ends in .svg (default comparison.png)." };
        var title = new Option<string?>("--title") { Description = "The figure's title (default: the run names)." };
        var command = new Command("plot", "Overlay the loss and accuracy curves of several runs in one figure.") { runs, outPath, title };
        command.SetAction(parse =>
        {
            var named = new List<(string Name, History History)>();
            foreach (string run in parse.GetValue(runs)!)
                named.Add((RunName(run), HistoryFiles.Read(run)));
            string path = parse.GetValue(outPath) ?? "comparison.png";
            if (!path.EndsWith(".png", StringComparison.OrdinalIgnoreCase) && !path.EndsWith(".svg", StringComparison.OrdinalIgnoreCase))
                throw new UsageException($"--out '{path}': plot writes PNG or SVG; name the file .png or .svg.");
            if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } folder) Directory.CreateDirectory(folder);
            RunComparison.Save(named, parse.GetValue(title) ?? string.Join(" vs ", named.Select(r => r.Name)), path);
            output.WriteLine($"# wrote {path}: {named.Count} runs ({string.Join(", ", named.Select(r => $"{r.Name}: {r.History.Count - 1} epochs"))})");
            return 0;
        });
        return command;
    }

    // A run's name: its folder's name ("runs/digits-20261127-083405/" → "digits-20261127-083405"); for a history file, the folder holding it.
    private static string RunName(string run)
    {
        string full = Path.GetFullPath(run).TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
        return Path.GetFileName(File.Exists(full) ? Path.GetDirectoryName(full)! : full);
    }
}
