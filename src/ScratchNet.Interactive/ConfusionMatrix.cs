using System.Globalization;
using System.Numerics;
using System.Text;
using ScratchNet.Data;

namespace ScratchNet.Interactive;

/// <summary>
/// Counts of (true class, predicted class) over a set of samples: <c>Counts[t, p]</c> samples of class t were predicted
/// as p. A notebook shows it as the heatmap of <see cref="Plots.ConfusionMatrixPlot"/>; <see cref="ToString"/> is a text table.
/// </summary>
public sealed class ConfusionMatrix
{
    /// <summary>Wraps counts (classes, classes) and one name per class.</summary>
    /// <exception cref="ArgumentException">The counts are not square, or the names do not match them.</exception>
    public ConfusionMatrix(long[,] counts, IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(counts);
        int n = counts.GetLength(0);
        if (n == 0 || counts.GetLength(1) != n) throw new ArgumentException($"A confusion matrix is square and not empty; got {n}×{counts.GetLength(1)}.", nameof(counts));
        classNames ??= [.. Enumerable.Range(0, n).Select(i => i.ToString(CultureInfo.InvariantCulture))];
        if (classNames.Count != n) throw new ArgumentException($"{classNames.Count} class names for {n} classes.", nameof(classNames));
        Counts = counts;
        ClassNames = classNames;
    }

    /// <summary>(classes, classes): <c>Counts[true, predicted]</c>.</summary>
    public long[,] Counts { get; }

    /// <summary>One name per class, for the axes.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Number of classes.</summary>
    public int Classes => Counts.GetLength(0);

    /// <summary>Samples counted.</summary>
    public long Total => Counts.Cast<long>().Sum();

    /// <summary>The share of samples on the diagonal; NaN for none.</summary>
    public double Accuracy => Total == 0 ? double.NaN : (double)Enumerable.Range(0, Classes).Sum(c => Counts[c, c]) / Total;

    /// <summary>The network's predictions on <paramref name="x"/> against class indices <paramref name="labels"/>.</summary>
    /// <exception cref="ShapeMismatchException">x does not fit the network, or the labels differ from its rows in number.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A label is outside [0, outputs).</exception>
    public static ConfusionMatrix Of<T>(Network<T> network, Matrix<T> x, ReadOnlySpan<int> labels, IReadOnlyList<string>? classNames = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        if (labels.Length != x.Rows) throw new ShapeMismatchException($"{x.Rows} rows but {labels.Length} labels.");
        int[] predicted = network.PredictClasses(x);
        var counts = new long[network.Outputs, network.Outputs];
        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)network.Outputs)
                throw new ArgumentOutOfRangeException(nameof(labels), $"Label {labels[i]} at row {i} is outside [0, {network.Outputs}).");
            counts[labels[i], predicted[i]]++;
        }
        return new ConfusionMatrix(counts, classNames);
    }

    /// <summary>The network's predictions on a dataset's features against its one-hot targets' classes.</summary>
    public static ConfusionMatrix Of<T>(Network<T> network, Dataset<T> data, IReadOnlyList<string>? classNames = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(data);
        int[] labels = [.. Enumerable.Range(0, data.Count).Select(data.ClassOf)];
        return Of(network, data.Features, labels, classNames);
    }

    /// <summary>A text table: true classes down, predicted across, then the accuracy.</summary>
    public override string ToString()
    {
        var cells = new string[Classes + 1][];
        cells[0] = ["true\\pred", .. ClassNames];
        for (int t = 0; t < Classes; t++)
            cells[t + 1] = [ClassNames[t], .. Enumerable.Range(0, Classes).Select(p => Counts[t, p].ToString(CultureInfo.InvariantCulture))];
        int width = cells.Max(row => row.Max(c => c.Length));
        var text = new StringBuilder();
        foreach (var row in cells) text.AppendLine(string.Join(" ", row.Select(c => c.PadLeft(width))));
        return text.Append(CultureInfo.InvariantCulture, $"accuracy: {Accuracy:F4} ({Total} samples)").ToString();
    }
}
