using System.Diagnostics;
using System.Numerics;
using ScratchNet.Training;

namespace ScratchNet.Cli.Commands;

/// <summary>What a run produced: the epochs completed (from −1), whether Ctrl-C stopped it, and its times.</summary>
internal sealed record RunResult(History History, bool Interrupted, double WallSeconds)
{
    /// <summary>Seconds of the epochs trained (each epoch's steps and its statistics pass), without epoch −1.</summary>
    public double TrainingSeconds => History.Skip(1).Sum(e => e.Seconds);

    /// <summary>Epochs completed (epoch −1 not counted).</summary>
    public int EpochsCompleted => History.Count - 1;

    /// <summary>Training samples per second over the completed epochs.</summary>
    public double SamplesPerSecond(int trainRows) => TrainingSeconds > 0 ? (double)trainRows * EpochsCompleted / TrainingSeconds : 0;
}

/// <summary>
/// Runs <see cref="Trainer{T}.Train(ScratchNet.Training.TrainOptions, CancellationToken)"/> with per-batch progress shown
/// through an <see cref="ITrainingView"/>; when <c>cancel</c> fires (Ctrl-C) the trainer stops after the batch that is
/// running (writing its checkpoint when the options ask for one) and the epochs completed so far are kept.
/// </summary>
internal sealed class TrainingRun<T>(Trainer<T> trainer, ScratchNet.Training.TrainOptions options, ITrainingView view) where T : unmanaged, IFloatingPointIeee754<T>
{
    public RunResult Execute(CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        var history = view.Show(options.Epochs, progress =>
        {
            trainer.EpochCompleted += progress.EpochCompleted;
            try { return trainer.Train(options with { Progress = Chain(options.Progress, new BatchReports(progress)) }, cancel); }
            finally { trainer.EpochCompleted -= progress.EpochCompleted; }
        });
        return new RunResult(history, history.StopReason == StopReason.Cancelled, clock.Elapsed.TotalSeconds);
    }

    private static IProgress<BatchProgress> Chain(IProgress<BatchProgress>? first, IProgress<BatchProgress> second) =>
        first is null ? second : new BatchReports.Both(first, second);

    // Synchronous (Progress<T> would post to the thread pool and report after the epoch is over).
    private sealed class BatchReports(ITrainingProgress progress) : IProgress<BatchProgress>
    {
        public void Report(BatchProgress value) => progress.BatchCompleted(value);

        public sealed class Both(IProgress<BatchProgress> first, IProgress<BatchProgress> second) : IProgress<BatchProgress>
        {
            public void Report(BatchProgress value)
            {
                first.Report(value);
                second.Report(value);
            }
        }
    }
}
