namespace ScratchNet.Optimizers.Schedules;

/// <summary>As <c>torch.optim.lr_scheduler.ExponentialLR</c>: rate(e) = baseRate · γ^e.</summary>
public sealed class ExponentialDecay(double baseRate, double gamma) : ILearningRateSchedule
{
    /// <summary>The rate of epoch 0.</summary>
    public double BaseRate { get; } = Schedule.Positive(baseRate, nameof(baseRate));

    /// <summary>The factor applied each epoch.</summary>
    public double Gamma { get; } = Schedule.Positive(gamma, nameof(gamma));

    /// <inheritdoc/>
    public double RateAt(int epoch) => BaseRate * Math.Pow(Gamma, Schedule.Epoch(epoch));
}
