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
/// Runs <see cref="Trainer{T}.Train"/>, shows each epoch through an <see cref="ITrainingView"/> and
/// stops when <paramref name="cancel"/> fires, keeping the epochs completed so far.
/// </summary>
internal sealed class TrainingRun<T>(Trainer<T> trainer, int epochs, int batchSize, ITrainingView view) where T : unmanaged, IFloatingPointIeee754<T>
{
    public RunResult Execute(CancellationToken cancel)
    {
        var completed = new List<EpochStats>(epochs + 1);
        var clock = Stopwatch.StartNew();
        bool interrupted = view.Show(epochs, progress =>
        {
            void OnEpoch(EpochStats stats)
            {
                completed.Add(stats);
                progress.EpochCompleted(stats);
                // The trainer has no cancellation of its own yet: stop between epochs by unwinding out of Train.
                cancel.ThrowIfCancellationRequested();
            }
            trainer.EpochCompleted += OnEpoch;
            try
            {
                trainer.Train(epochs, batchSize, verbose: false);
                return false;
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                return true;
            }
            finally
            {
                trainer.EpochCompleted -= OnEpoch;
            }
        });
        return new RunResult(new History(completed), interrupted, clock.Elapsed.TotalSeconds);
    }
}
