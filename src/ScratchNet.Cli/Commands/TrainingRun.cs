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
/// Runs the trainer with per-batch progress shown through an <see cref="ITrainingView"/>; when
/// <c>cancel</c> fires (Ctrl-C) the trainer stops after the batch that is running and the epochs
/// completed so far are kept.
/// </summary>
internal sealed class TrainingRun<T>(Trainer<T> trainer, int epochs, int batchSize, ITrainingView view) where T : unmanaged, IFloatingPointIeee754<T>
{
    public RunResult Execute(CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        var history = view.Show(epochs, progress =>
        {
            void OnEpoch(EpochStats stats) => progress.EpochCompleted(stats);
            trainer.EpochCompleted += OnEpoch;
            try
            {
                var options = new TrainOptions { Epochs = epochs, BatchSize = batchSize, Progress = new BatchReports(progress) };
                return trainer.Train(options, cancel);
            }
            finally
            {
                trainer.EpochCompleted -= OnEpoch;
            }
        });
        return new RunResult(history, history.StopReason == StopReason.Cancelled, clock.Elapsed.TotalSeconds);
    }

    // Synchronous (Progress<T> would post to the thread pool and report after the epoch is over).
    private sealed class BatchReports(ITrainingProgress progress) : IProgress<BatchProgress>
    {
        public void Report(BatchProgress value) => progress.BatchCompleted(value);
    }
}
