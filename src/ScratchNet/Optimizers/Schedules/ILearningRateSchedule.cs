namespace ScratchNet.Optimizers.Schedules;

/// <summary>A learning rate that depends only on the epoch: set <c>optimizer.LearningRate = schedule.RateAt(epoch)</c> before each epoch.</summary>
public interface ILearningRateSchedule
{
    /// <summary>The rate for epoch <paramref name="epoch"/>, counted from 0.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epoch"/> is negative.</exception>
    double RateAt(int epoch);
}
