using System.CommandLine;
using System.Globalization;
using System.Text;
using ScratchNet.Data.Catalog;

namespace ScratchNet.Cli.Commands;

/// <summary>
/// <c>scratchnet report</c>: reruns the course report's three experiments with its networks and
/// hyper-parameters, each in its own run folder, and writes <c>report.md</c> setting ScratchNet's final
/// statistics and times beside the report's.
/// </summary>
public static class ReportCommand
{
    /// <summary>The report's final statistics for one experiment (its section's "Statistics" block).</summary>
    internal sealed record Published(double TrainLoss, double TrainAccuracy, double ValidationLoss, double ValidationAccuracy, string? WallTime);

    /// <summary>One of the report's experiments: its section, the exact settings it used, and what it published.</summary>
    internal sealed record Experiment(string Name, string Section, RunConfig Config, int QuickEpochs, Published Report);

    /// <summary>
    /// The report's experiments, settings copied from its code cells (seed-report.txt, sections 3–5). The linear
    /// toy's numbers are its last printed epoch ("E: 9"), unrounded: its Statistics block rounds validation
    /// accuracy 0.9985 (3 of 2,000 wrong) up to 0.999.
    /// </summary>
    internal static readonly Experiment[] Experiments =
    [
        new("linear", "3 Training the Network - Linear",
            new RunConfig { Dataset = "linear", Layers = [10], Loss = "l2", Reg = 0.01, Lr = 0.001, Epochs = 10, BatchSize = 1, Init = [0.05, 0.05] },
            QuickEpochs: 2, new Published(0.0031606603879481554, 0.9988750219345093, 0.0026310631074011326, 0.9985000491142273, null)),
        new("fashion-mnist", "4 Training the Network - MNIST (Fashion-MNIST)",
            new RunConfig { Dataset = "fashion-mnist", Layers = [800, 300], Loss = "ce", Reg = 0.00001, Lr = 0.001, Epochs = 50, BatchSize = 1, Init = [0.001, 0.0025, 0.03] },
            QuickEpochs: 1, new Published(0.184, 0.937, 0.341, 0.883, null)),
        new("cifar-10", "5 Training the Network - CIFAR-10",
            new RunConfig { Dataset = "cifar-10", Layers = [800, 300], Loss = "ce", Reg = 0.0001, Lr = 0.0002, Epochs = 50, BatchSize = 1, Init = [0.001, 0.0025, 0.03] },
            QuickEpochs: 1, new Published(1.140, 0.586, 1.43, 0.495, "37.6 min (GPU)")),
    ];

    public static Command Create(TextWriter output, TextWriter error)
    {
        var dataDir = new Option<string?>("--data-dir") { Description = "Folder with the official Fashion-MNIST and CIFAR-10 files (see train --data-dir). Default: the download cache; nothing is downloaded." };
        var outDir = new Option<string?>("--out") { Description = "Folder for report.md and one run folder per experiment (default runs/report-yyyyMMdd-HHmmss)." };
        var quick = new Option<bool>("--quick") { Description = "A smoke test: 2 epochs of the linear experiment, 1 of each image experiment." };
        var threads = Options.Number<int>("--threads", "Threads for the kernels (default: all cores).");
        var command = new Command("report", "Rerun the report's three experiments (linear toy; Fashion-MNIST and CIFAR-10 784/3072-800-300-10) where their data is available, and write report.md.")
        {
            dataDir, outDir, quick, threads,
        };
        command.SetAction(parse =>
        {
            string folder = parse.GetValue(outDir) ?? RunFolder.DefaultPath("report", DateTime.Now);
            using var shutdown = Shutdown.Listen(error);
            return shutdown.ExitCode(Run(folder, parse.GetValue(dataDir), parse.GetValue(quick), parse.GetValue(threads), output, error, shutdown.Token));
        });
        return command;
    }

    internal static int Run(string folder, string? dataDir, bool quick, int? threads, TextWriter output, TextWriter error, CancellationToken cancel)
    {
        if (threads is < 1) throw new UsageException($"--threads must be at least 1, got {threads}.");
        Directory.CreateDirectory(folder);
        var results = new List<(Experiment Experiment, RunSummary? Run, string? Skipped, double Penalty)>();
        bool interrupted = false;
        foreach (var experiment in Experiments)
        {
            if (interrupted) break;
            var entry = DatasetCatalog.Find(experiment.Config.Dataset!);
            if (entry is not null && dataDir is null && !new DataCache().Holds(entry))
            {
                string why = $"no {entry.Name} files in the download cache ({new DataCache().FolderOf(entry)}); get them with 'scratchnet data download {entry.Name}' " +
                             $"or pass --data-dir DIR holding the official files (e.g. DIR/{entry.Name}/)";
                output.WriteLine($"# skipped {experiment.Name}: {why}");
                results.Add((experiment, null, why, double.NaN));
                continue;
            }
            var config = experiment.Config.OverriddenBy(new RunConfig
            {
                Epochs = quick ? experiment.QuickEpochs : null,
                Threads = threads,
                DataDir = entry is null ? null : dataDir,
            });
            var settings = TrainCommandOptions.Resolve(config, null, new HashSet<string>(), Path.Combine(folder, experiment.Name));
            output.WriteLine($"# {experiment.Section}: {config.Dataset}, {config.Epochs} epochs{(quick ? " (--quick)" : "")}");
            try
            {
                var run = TrainCommand.Execute(settings, output, error, cancel, ConsoleView.For(output));
                results.Add((experiment, run, null, FinalPenalty(Path.Combine(folder, experiment.Name))));
                interrupted = run.Result.Interrupted;
            }
            catch (DataNotFoundException e)
            {
                string why = $"{e.Message.ReplaceLineEndings(" ")} Get the files with 'scratchnet data download {entry!.Name}' or point --data-dir at them.";
                output.WriteLine($"# skipped {experiment.Name}: {why}");
                results.Add((experiment, null, why, double.NaN));
            }
        }
        string report = Path.Combine(folder, "report.md");
        AtomicFile.WriteAllText(report, Markdown(results, quick, dataDir, interrupted));
        output.WriteLine($"# wrote {report}");
        return interrupted ? TrainCommand.Interrupted : 0;
    }

    /// <summary>
    /// λ·ΣW² of the run's saved final weights: the part of its losses that is the weight penalty (ScratchNet's
    /// losses include it, the report's printed ones do not); NaN when the run saved no model.
    /// </summary>
    internal static double FinalPenalty(string runFolder)
    {
        string model = Path.Combine(runFolder, RunFolder.Model);
        return File.Exists(model) ? Network<double>.Load(model).RegularizationPenalty() : double.NaN;
    }

    // 0.00001 as the report writes it, not 1E-05.
    private static string Plain(double value) => value.ToString("0.##########", CultureInfo.InvariantCulture);

    private static string Markdown(List<(Experiment Experiment, RunSummary? Run, string? Skipped, double Penalty)> results, bool quick, string? dataDir, bool interrupted)
    {
        static string F(double value) => value.ToString("F4", CultureInfo.InvariantCulture);
        var text = new StringBuilder();
        text.Append("# The report's experiments, rerun with ScratchNet\n\n");
        text.Append(
            $"`scratchnet report{(quick ? " --quick" : "")}{(dataDir is null ? "" : $" --data-dir {dataDir}")}` on {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, " +
            $"{Environment.ProcessorCount} cores, .NET {Environment.Version}. Same networks, losses, λ, learning rates, batch size 1 and weight scales as the report; " +
            "the report's numbers are its sections' \"Statistics\" blocks (final epoch; validation: the 20 % held out of the training files), " +
            "the linear toy's from its last printed epoch, unrounded (its block rounds validation accuracy 0.9985, 3 of 2,000 wrong, up to 0.999). " +
            "ScratchNet's losses include the weight penalty λ·ΣW² (its value at the end is the λ·ΣW² column); the report's printed losses leave it out " +
            "(for the linear toy they must: a 2-10-2 ReLU network whose squared error to the 90° turn is 0.003 has ΣW² ≥ 3.7, so with λ = 0.01 a loss that counted " +
            "the penalty could not fall below 0.04, and the report prints 0.003), so compare the report's losses with ScratchNet's less that column. " +
            "ScratchNet's wall time runs from the statistics before training (epoch −1) to the last epoch's, on the CPU; samples/s counts each epoch's steps and statistics passes.\n\n");
        if (quick) text.Append("**--quick**: a smoke test with 1–2 epochs per experiment, not comparable with the report's 10 and 50.\n\n");
        if (interrupted) text.Append("**Interrupted** (Ctrl-C, SIGTERM or SIGHUP): the last experiment stopped early.\n\n");
        text.Append("| experiment | who | epochs | train loss | train acc | val loss | val acc | λ·ΣW² | wall time | samples/s |\n|---|---|---|---|---|---|---|---|---|---|\n");
        foreach (var (experiment, run, skipped, penalty) in results)
        {
            var p = experiment.Report;
            text.Append(CultureInfo.InvariantCulture,
                $"| {experiment.Name} | report | {experiment.Config.Epochs} | {F(p.TrainLoss)} | {F(p.TrainAccuracy)} | {F(p.ValidationLoss)} | {F(p.ValidationAccuracy)} | — | {p.WallTime ?? "—"} | — |\n");
            if (run is null)
            {
                text.Append(CultureInfo.InvariantCulture, $"| | ScratchNet | skipped: no data | | | | | | | |\n");
                continue;
            }
            var final = run.Result.History.Final;
            text.Append(
                $"| | **ScratchNet** | {run.Result.EpochsCompleted} | {F(final.TrainLoss)} | {F(final.TrainAccuracy)} | {F(final.ValidationLoss)} | **{F(final.ValidationAccuracy)}** | {(double.IsNaN(penalty) ? "—" : F(penalty))} | " +
                $"{RunSummary.Duration(run.Result.WallSeconds)} (CPU) | {run.Result.SamplesPerSecond(run.TrainRows):F0} |\n");
        }
        foreach (var (experiment, run, skipped, penalty) in results)
        {
            text.Append(CultureInfo.InvariantCulture, $"\n## {experiment.Section}\n\n");
            var c = experiment.Config;
            text.Append(
                $"Network: {(c.Dataset == "linear" ? "2" : c.Dataset == "cifar-10" ? "3072" : "784")}-{string.Join('-', c.Layers!)}-{(c.Dataset == "linear" ? "2" : "10")}, " +
                $"loss {c.Loss}, λ {Plain(c.Reg!.Value)}, lr {Plain(c.Lr!.Value)}, batch {c.BatchSize}, w = {string.Join(", ", c.Init!.Select(Plain))}.\n\n");
            if (run is null)
            {
                text.Append(CultureInfo.InvariantCulture, $"Skipped: {skipped!.TrimEnd('.')}.\n");
                continue;
            }
            if (double.IsFinite(penalty) && penalty > 0)
            {
                var last = run.Result.History.Final;
                text.Append(CultureInfo.InvariantCulture,
                    $"Final losses without the penalty λ·ΣW² = {F(penalty)}, as the report prints them: train {F(last.TrainLoss - penalty)}, validation {F(last.ValidationLoss - penalty)}.\n\n");
            }
            text.Append(
                $"{run.TrainRows} training and {run.ValidationRows} validation samples; run folder `{experiment.Name}/` (config.json reruns it with `scratchnet train --config`).\n\n");
            text.Append(CultureInfo.InvariantCulture, $"![{experiment.Name}: loss and accuracy per epoch]({experiment.Name}/curves.png)\n");
        }
        return text.ToString();
    }
}
