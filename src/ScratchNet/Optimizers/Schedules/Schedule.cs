namespace ScratchNet.Optimizers.Schedules;

// Argument checks shared by the schedules.
internal static class Schedule
{
    public static double Positive(double value, string name) => value > 0 && double.IsFinite(value)
        ? value
        : throw new ArgumentOutOfRangeException(name, value, "The value must be finite and > 0.");

    public static int Epoch(int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch, nameof(epoch));
        return epoch;
    }
}
