using ScratchNet.Training;
using Spectre.Console;

namespace ScratchNet.Cli.Commands;

/// <summary>Receives a run's progress while it trains.</summary>
internal interface ITrainingProgress
{
    /// <summary>An epoch finished (epoch −1: the statistics before training).</summary>
    void EpochCompleted(EpochStats stats);
}

/// <summary>How a run is shown: around the whole run, so a live display can own the terminal meanwhile.</summary>
internal interface ITrainingView
{
    /// <summary>Runs <paramref name="train"/>, showing the progress it reports for a run of <paramref name="epochs"/> epochs.</summary>
    TResult Show<TResult>(int epochs, Func<ITrainingProgress, TResult> train);
}

/// <summary>Picks the view for a writer: the live bar only when it is the process's standard output on a terminal.</summary>
internal static class ConsoleView
{
    public static ITrainingView For(TextWriter output) =>
        ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive
            ? new LiveView()
            : new PlainView(output);
}

/// <summary>The report's line per epoch (<see cref="EpochStats.ToReportLine"/>), flushed at once; nothing else, so a log or pipe gets plain text.</summary>
internal sealed class PlainView(TextWriter output) : ITrainingView, ITrainingProgress
{
    public TResult Show<TResult>(int epochs, Func<ITrainingProgress, TResult> train) => train(this);

    public void EpochCompleted(EpochStats stats)
    {
        output.WriteLine(stats.ToReportLine());
        output.Flush();
    }
}

/// <summary>
/// On a terminal: a Spectre.Console progress bar over the epochs, with the report's plain line printed
/// above it for each epoch (written through the same console, so the bar redraws below the lines).
/// </summary>
internal sealed class LiveView : ITrainingView
{
    public TResult Show<TResult>(int epochs, Func<ITrainingProgress, TResult> train) =>
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask("epochs", maxValue: epochs);
                return train(new Progress(task));
            });

    private sealed class Progress(ProgressTask task) : ITrainingProgress
    {
        public void EpochCompleted(EpochStats stats)
        {
            AnsiConsole.Write(new Text(stats.ToReportLine() + "\n"));
            if (stats.Epoch >= 0) task.Increment(1);
            task.Description = stats.Epoch < 0 ? "epochs" : $"epoch {stats.Epoch + 1}/{task.MaxValue:0}";
        }
    }
}
