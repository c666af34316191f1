using System.Numerics;

namespace ScratchNet.Training;

/// <summary>Training off the calling thread, for UIs, services and notebooks.</summary>
public static class TrainerExtensions
{
    /// <summary>
    /// Runs <see cref="Trainer{T}.Train(TrainOptions, CancellationToken)"/> on a thread-pool thread. The token stops
    /// training after the batch that is running (the task then completes with the history so far and
    /// <see cref="StopReason.Cancelled"/>, it is not faulted); <see cref="TrainOptions.Progress"/> is told after every batch.
    /// </summary>
    /// <returns>A task that completes with the history, or faults with what <c>Train</c> throws (e.g. <see cref="DivergenceException"/>).</returns>
    public static Task<History> TrainAsync<T>(this Trainer<T> trainer, TrainOptions options, CancellationToken cancellation = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(trainer);
        ArgumentNullException.ThrowIfNull(options);
        return Task.Run(() => trainer.Train(options, cancellation), CancellationToken.None);
    }

    /// <summary>
    /// The report's <c>Train(epochs, batchSize)</c> on a thread-pool thread, with a per-batch <paramref name="progress"/>
    /// (e.g. a <see cref="Progress{T}"/>, which reports on the caller's synchronisation context) and cancellation as in
    /// <see cref="TrainAsync{T}(Trainer{T}, TrainOptions, CancellationToken)"/>.
    /// </summary>
    public static Task<History> TrainAsync<T>(this Trainer<T> trainer, int epochs, int batchSize = 1, IProgress<BatchProgress>? progress = null,
                                              CancellationToken cancellation = default)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        trainer.TrainAsync(new TrainOptions { Epochs = epochs, BatchSize = batchSize, Progress = progress }, cancellation);
}
