namespace ScratchNet.Optimizers.Schedules;

/// <summary>
/// As <c>torch.optim.lr_scheduler.ReduceLROnPlateau</c> (relative threshold): feed it the monitored value
/// once per epoch with <see cref="Observe"/>; when it has not improved on the best by more than the
/// threshold for more than <see cref="Patience"/> epochs, the rate is multiplied by <see cref="Factor"/>
/// (not below <see cref="MinRate"/>), and a cool-down of <see cref="Cooldown"/> epochs follows.
/// </summary>
public sealed class ReduceOnPlateau
{
    private int _badEpochs, _cooldownLeft;

    /// <summary>Creates the schedule.</summary>
    /// <param name="initialRate">The rate until the first reduction.</param>
    /// <param name="factor">Multiplier at each reduction, in (0, 1).</param>
    /// <param name="patience">Epochs without improvement tolerated, ≥ 0.</param>
    /// <param name="threshold">Relative improvement that counts, ≥ 0: better means below best·(1 − threshold) (above best·(1 + threshold) when maximising).</param>
    /// <param name="cooldown">Epochs after a reduction during which bad epochs are not counted, ≥ 0.</param>
    /// <param name="minRate">The rate never falls below this, ≥ 0.</param>
    /// <param name="maximize">Whether higher is better (e.g. accuracy) rather than lower (loss).</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range.</exception>
    public ReduceOnPlateau(double initialRate, double factor = 0.1, int patience = 10, double threshold = 1e-4, int cooldown = 0, double minRate = 0, bool maximize = false)
    {
        Rate = Schedule.Positive(initialRate, nameof(initialRate));
        Factor = factor is > 0 and < 1 ? factor : throw new ArgumentOutOfRangeException(nameof(factor), factor, "The factor must be in (0, 1).");
        ArgumentOutOfRangeException.ThrowIfNegative(patience);
        ArgumentOutOfRangeException.ThrowIfNegative(cooldown);
        if (!(threshold >= 0 && double.IsFinite(threshold))) throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "The threshold must be finite and ≥ 0.");
        if (!(minRate >= 0 && double.IsFinite(minRate))) throw new ArgumentOutOfRangeException(nameof(minRate), minRate, "The minimum rate must be finite and ≥ 0.");
        (Patience, Threshold, Cooldown, MinRate, Maximize) = (patience, threshold, cooldown, minRate, maximize);
        Best = maximize ? double.NegativeInfinity : double.PositiveInfinity;
    }

    /// <summary>The current rate.</summary>
    public double Rate { get; private set; }

    /// <summary>The multiplier at each reduction.</summary>
    public double Factor { get; }

    /// <summary>Epochs without improvement tolerated before a reduction.</summary>
    public int Patience { get; }

    /// <summary>The relative improvement that counts.</summary>
    public double Threshold { get; }

    /// <summary>Epochs after a reduction that do not count as bad.</summary>
    public int Cooldown { get; }

    /// <summary>The floor of the rate.</summary>
    public double MinRate { get; }

    /// <summary>Whether higher monitored values are better.</summary>
    public bool Maximize { get; }

    /// <summary>The best monitored value so far (±∞ before the first).</summary>
    public double Best { get; private set; }

    /// <summary>The state beyond the settings, for checkpoints: rate, best value, bad epochs counted, cool-down epochs left.</summary>
    internal (double Rate, double Best, int BadEpochs, int CooldownLeft) GetState() => (Rate, Best, _badEpochs, _cooldownLeft);

    /// <summary>Restores a state from <see cref="GetState"/>.</summary>
    internal void SetState((double Rate, double Best, int BadEpochs, int CooldownLeft) state) =>
        (Rate, Best, _badEpochs, _cooldownLeft) = state;

    /// <summary>Records one epoch's monitored value and returns the rate for the next epoch.</summary>
    public double Observe(double value)
    {
        bool better = Maximize ? value > Best * (1 + Threshold) : value < Best * (1 - Threshold);
        if (better)
        {
            Best = value;
            _badEpochs = 0;
        }
        else
        {
            _badEpochs++;
        }
        if (_cooldownLeft > 0)
        {
            _cooldownLeft--;
            _badEpochs = 0;
        }
        if (_badEpochs > Patience)
        {
            double reduced = Math.Max(Rate * Factor, MinRate);
            if (Rate - reduced > 1e-8) Rate = reduced;   // torch's eps: ignore reductions smaller than 1e-8
            _cooldownLeft = Cooldown;
            _badEpochs = 0;
        }
        return Rate;
    }
}
