namespace ScratchNet.Optimizers.Schedules;

/// <summary>
/// A learning rate set before every training step (batch), not every epoch: the trainer sets
/// <c>optimizer.LearningRate = schedule.RateAt(step, totalSteps)</c>, step counted from 0 over the whole run.
/// </summary>
public interface IStepSchedule
{
    /// <summary>The rate of step <paramref name="step"/> of a run of <paramref name="totalSteps"/> steps (0 ≤ step &lt; totalSteps).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The step is negative or the total is not positive.</exception>
    double RateAt(long step, long totalSteps);
}

/// <summary>
/// Piecewise linear in the step, through knots (step, rate); constant before the first knot and after the last
/// (numpy's <c>interp</c>). The triangular and one-cycle schedules are two sets of knots.
/// </summary>
public abstract class PiecewiseLinearSchedule : IStepSchedule
{
    private (double Step, double Rate)[] _knots = [];
    private long _knotsFor = -1;   // the total the knots were made for: made once per run, so a step allocates nothing

    /// <summary>The knots for a run of <paramref name="totalSteps"/> steps, in increasing step order.</summary>
    protected abstract (double Step, double Rate)[] Knots(long totalSteps);

    /// <inheritdoc/>
    public double RateAt(long step, long totalSteps)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(totalSteps);
        if (_knotsFor != totalSteps) (_knots, _knotsFor) = (Knots(totalSteps), totalSteps);
        var knots = _knots;
        if (step <= knots[0].Step) return knots[0].Rate;
        for (int k = 1; k < knots.Length; k++)
        {
            var (x0, y0) = knots[k - 1];
            var (x1, y1) = knots[k];
            if (step <= x1) return x1 == x0 ? y1 : y0 + (y1 - y0) * ((step - x0) / (x1 - x0));
        }
        return knots[^1].Rate;
    }
}

/// <summary>
/// airbench's triangular schedule: numpy's <c>interp(step, [0, ⌊peak·total⌋, total], [start, 1, end])</c> times
/// <see cref="BaseRate"/>: a linear rise from start·base to base over the first <see cref="PeakFraction"/> of the
/// steps, then a linear fall towards end·base at the end of the run.
/// </summary>
public sealed class Triangular : PiecewiseLinearSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="baseRate">The peak rate, &gt; 0.</param>
    /// <param name="peakFraction">Where the peak falls, as a share of the run's steps, in [0, 1].</param>
    /// <param name="startFactor">The rate at step 0 as a share of the peak, in (0, 1].</param>
    /// <param name="endFactor">The rate at the end (step = total, one past the last) as a share of the peak, in [0, 1].</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range.</exception>
    public Triangular(double baseRate, double peakFraction = 0.2, double startFactor = 0.2, double endFactor = 0)
    {
        BaseRate = Schedule.Positive(baseRate, nameof(baseRate));
        PeakFraction = peakFraction is >= 0 and <= 1 ? peakFraction : throw new ArgumentOutOfRangeException(nameof(peakFraction), peakFraction, "The peak must lie in [0, 1] of the run.");
        StartFactor = startFactor is > 0 and <= 1 ? startFactor : throw new ArgumentOutOfRangeException(nameof(startFactor), startFactor, "The start factor must be in (0, 1].");
        EndFactor = endFactor is >= 0 and <= 1 ? endFactor : throw new ArgumentOutOfRangeException(nameof(endFactor), endFactor, "The end factor must be in [0, 1].");
    }

    /// <summary>The peak rate.</summary>
    public double BaseRate { get; }

    /// <summary>Where the peak falls, as a share of the steps.</summary>
    public double PeakFraction { get; }

    /// <summary>The first step's share of the peak.</summary>
    public double StartFactor { get; }

    /// <summary>The end's share of the peak.</summary>
    public double EndFactor { get; }

    /// <inheritdoc/>
    protected override (double Step, double Rate)[] Knots(long totalSteps) =>
        [(0, StartFactor * BaseRate), (Math.Floor(PeakFraction * totalSteps), BaseRate), (totalSteps, EndFactor * BaseRate)];
}

/// <summary>
/// As <c>torch.optim.lr_scheduler.OneCycleLR(max_lr, total_steps, pct_start, div_factor, final_div_factor,
/// anneal_strategy='linear', three_phase=False)</c>: from max/div at step 0 linearly up to max at step
/// pct·total − 1, then linearly down to max/(div·finalDiv) at the last step, total − 1.
/// </summary>
public sealed class OneCycle : PiecewiseLinearSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="maxRate">The peak rate, &gt; 0.</param>
    /// <param name="pctStart">The share of the steps spent rising, in (0, 1).</param>
    /// <param name="divFactor">The first rate is max / divFactor; &gt; 0.</param>
    /// <param name="finalDivFactor">The last rate is max / (divFactor · finalDivFactor); &gt; 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range.</exception>
    public OneCycle(double maxRate, double pctStart = 0.3, double divFactor = 25, double finalDivFactor = 1e4)
    {
        MaxRate = Schedule.Positive(maxRate, nameof(maxRate));
        PctStart = pctStart is > 0 and < 1 ? pctStart : throw new ArgumentOutOfRangeException(nameof(pctStart), pctStart, "pct_start must be in (0, 1).");
        DivFactor = Schedule.Positive(divFactor, nameof(divFactor));
        FinalDivFactor = Schedule.Positive(finalDivFactor, nameof(finalDivFactor));
    }

    /// <summary>The peak rate.</summary>
    public double MaxRate { get; }

    /// <summary>The share of the steps spent rising.</summary>
    public double PctStart { get; }

    /// <summary>max / first rate.</summary>
    public double DivFactor { get; }

    /// <summary>first rate / last rate.</summary>
    public double FinalDivFactor { get; }

    /// <inheritdoc/>
    protected override (double Step, double Rate)[] Knots(long totalSteps)
    {
        double initial = MaxRate / DivFactor;
        return [(0, initial), (PctStart * totalSteps - 1, MaxRate), (totalSteps - 1, initial / FinalDivFactor)];
    }
}
