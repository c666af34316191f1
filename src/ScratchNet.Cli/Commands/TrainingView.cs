using ScratchNet.Training;
using Spectre.Console;

namespace ScratchNet.Cli.Commands;

/// <summary>Receives a run's progress while it trains.</summary>
internal interface ITrainingProgress
{
    /// <summary>An epoch finished (epoch −1: the statistics before training).</summary>
    void EpochCompleted(EpochStats stats);

    /// <summary>A training batch finished (called on the training thread after every batch: keep it quick).</summary>
    void BatchCompleted(BatchProgress batch);
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
        Terminal.IsInteractive(output)
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

    public void BatchCompleted(BatchProgress batch)
    {
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
                var task = context.AddTask($"epoch 1/{epochs}", maxValue: epochs);
                return train(new Progress(task));
            });

    private sealed class Progress(ProgressTask task) : ITrainingProgress
    {
        public void EpochCompleted(EpochStats stats)
        {
            AnsiConsole.Write(new Text(stats.ToReportLine() + "\n"));
            task.Value = stats.Epoch + 1;
            task.Description = $"epoch {Math.Min(stats.Epoch + 2, (int)task.MaxValue)}/{task.MaxValue:0}";
        }

        public void BatchCompleted(BatchProgress batch)
        {
            // About 200 updates per epoch: the bar moves smoothly and the batch-1 loop pays nothing measurable.
            int step = Math.Max(1, batch.BatchCount / 200);
            if (batch.Batch % step == 0 || batch.Batch == batch.BatchCount - 1)
                task.Value = batch.Epoch + (batch.Batch + 1) / (double)batch.BatchCount;
        }
    }
}
