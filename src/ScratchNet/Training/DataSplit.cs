using System.Numerics;
using ScratchNet.Data;

namespace ScratchNet.Training;

/// <summary>Shuffled train/validation splits of a dataset's row indices.</summary>
public static class DataSplit
{
    /// <summary>
    /// Shuffles the rows 0..n−1 with <paramref name="rng"/> and puts round(n · <paramref name="validationFraction"/>)
    /// of them in the validation set. With <paramref name="stratify"/>, each class (<see cref="ISampleSource{T}.ClassOf"/>)
    /// is split on its own, so both sets keep the class proportions.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The fraction is not in (0, 1).</exception>
    /// <exception cref="ArgumentException">Either set would be empty.</exception>
    public static (int[] Train, int[] Validation) Split<T>(ISampleSource<T> samples, double validationFraction, bool stratify, Rng rng)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!(validationFraction > 0 && validationFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(validationFraction), validationFraction, "The validation fraction must lie strictly between 0 and 1.");
        int n = samples.Count;
        var groups = stratify
            ? Enumerable.Range(0, n).GroupBy(samples.ClassOf).OrderBy(g => g.Key).Select(g => g.ToArray()).ToList()
            : [Enumerable.Range(0, n).ToArray()];
        var train = new List<int>(n);
        var validation = new List<int>();
        foreach (var group in groups)
        {
            rng.Shuffle<int>(group);
            int validationCount = (int)Math.Round(group.Length * validationFraction, MidpointRounding.AwayFromZero);
            validation.AddRange(group.AsSpan(0, validationCount));
            train.AddRange(group.AsSpan(validationCount));
        }
        if (train.Count == 0 || validation.Count == 0)
            throw new ArgumentException(
                $"Splitting {n} samples with validation fraction {validationFraction} leaves {train.Count} for training and {validation.Count} for validation; both need at least one.",
                nameof(validationFraction));
        int[] trainRows = [.. train], validationRows = [.. validation];
        if (stratify)
        {
            // Class by class, the groups would otherwise come out sorted by class.
            rng.Shuffle<int>(trainRows);
            rng.Shuffle<int>(validationRows);
        }
        return (trainRows, validationRows);
    }
}
