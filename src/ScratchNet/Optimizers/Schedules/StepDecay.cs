namespace ScratchNet.Optimizers.Schedules;

/// <summary>
/// As <c>torch.optim.lr_scheduler.StepLR</c>: the rate is multiplied by <see cref="Gamma"/> every
/// <see cref="StepSize"/> epochs, rate(e) = baseRate · γ^⌊e / stepSize⌋.
/// </summary>
public sealed class StepDecay : ILearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The base rate or γ is not &gt; 0, or the step size is not positive.</exception>
    public StepDecay(double baseRate, int stepSize, double gamma = 0.1)
    {
        BaseRate = Schedule.Positive(baseRate, nameof(baseRate));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stepSize);
        StepSize = stepSize;
        Gamma = Schedule.Positive(gamma, nameof(gamma));
    }

    /// <summary>The rate of epoch 0.</summary>
    public double BaseRate { get; }

    /// <summary>Epochs between decays.</summary>
    public int StepSize { get; }

    /// <summary>The factor applied at each decay.</summary>
    public double Gamma { get; }

    /// <inheritdoc/>
    public double RateAt(int epoch) => BaseRate * Math.Pow(Gamma, Schedule.Epoch(epoch) / StepSize);
}
