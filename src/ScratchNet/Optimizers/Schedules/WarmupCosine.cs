namespace ScratchNet.Optimizers.Schedules;

/// <summary>
/// Linear warm-up, then cosine annealing: as torch's <c>SequentialLR([LinearLR(start_factor, total_iters=W),
/// CosineAnnealingLR(T_max=total − W, eta_min)], milestones=[W])</c>. For e &lt; W,
/// rate(e) = baseRate · (s + (1 − s) · e / W); for W ≤ e ≤ total, rate(e) = min + (baseRate − min) · (1 + cos(π (e − W) / (total − W))) / 2;
/// after total epochs it stays at the minimum.
/// </summary>
public sealed class WarmupCosine : ILearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="baseRate">The peak rate, reached at the end of the warm-up.</param>
    /// <param name="warmupEpochs">W ≥ 0 epochs of linear warm-up (0 for none).</param>
    /// <param name="totalEpochs">Epochs until the rate reaches <paramref name="minRate"/>; &gt; W.</param>
    /// <param name="minRate">The final rate, in [0, baseRate].</param>
    /// <param name="warmupStartFactor">s, the fraction of the base rate at epoch 0, in (0, 1].</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range.</exception>
    public WarmupCosine(double baseRate, int warmupEpochs, int totalEpochs, double minRate = 0, double warmupStartFactor = 0.1)
    {
        BaseRate = Schedule.Positive(baseRate, nameof(baseRate));
        ArgumentOutOfRangeException.ThrowIfNegative(warmupEpochs);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(totalEpochs, warmupEpochs);
        if (!(minRate >= 0 && minRate <= baseRate)) throw new ArgumentOutOfRangeException(nameof(minRate), minRate, "The minimum rate must be in [0, baseRate].");
        if (!(warmupStartFactor > 0 && warmupStartFactor <= 1))
            throw new ArgumentOutOfRangeException(nameof(warmupStartFactor), warmupStartFactor, "The start factor must be in (0, 1].");
        (WarmupEpochs, TotalEpochs, MinRate, WarmupStartFactor) = (warmupEpochs, totalEpochs, minRate, warmupStartFactor);
    }

    /// <summary>The peak rate.</summary>
    public double BaseRate { get; }

    /// <summary>Epochs of linear warm-up.</summary>
    public int WarmupEpochs { get; }

    /// <summary>Epochs until the minimum.</summary>
    public int TotalEpochs { get; }

    /// <summary>The final rate.</summary>
    public double MinRate { get; }

    /// <summary>Fraction of the base rate at epoch 0.</summary>
    public double WarmupStartFactor { get; }

    /// <inheritdoc/>
    public double RateAt(int epoch)
    {
        int e = Math.Min(Schedule.Epoch(epoch), TotalEpochs);
        if (e < WarmupEpochs) return BaseRate * (WarmupStartFactor + (1 - WarmupStartFactor) * e / WarmupEpochs);
        double progress = (double)(e - WarmupEpochs) / (TotalEpochs - WarmupEpochs);
        return MinRate + (BaseRate - MinRate) * (1 + Math.Cos(Math.PI * progress)) / 2;
    }
}
