using System.Numerics;

namespace ScratchNet.Training;

/// <summary>
/// Where a run stands between batches: everything a checkpoint must hold besides the network, the
/// optimiser and the generators. <see cref="NextBatch"/> = 0 means epoch <see cref="NextEpoch"/> has not
/// begun (its shuffle is still to be drawn); &gt; 0 means <see cref="Order"/> is that epoch's shuffle and
/// its first <see cref="NextBatch"/> batches are done.
/// </summary>
internal sealed class TrainingState<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public required List<EpochStats> History { get; init; }
    public required int[] Order { get; init; }
    public int NextEpoch { get; set; }
    public int NextBatch { get; set; }
    public int BatchSize { get; set; }
    public StopReason StopReason { get; set; }

    // Early stopping: the best monitored value, its epoch, epochs since; the best weights when kept.
    public double EarlyBest { get; set; } = double.NaN;
    public int EarlyBestEpoch { get; set; } = -1;
    public int EarlyBadEpochs { get; set; }
    public IReadOnlyList<Matrix<T>>? BestWeights { get; set; }

    public (double Rate, double Best, int BadEpochs, int CooldownLeft)? Plateau { get; set; }

}
