using System.Numerics;

namespace ScratchNet.Data;

/// <summary>
/// Features paired with class-index labels (0 … classes − 1), as most datasets come: the one-hot targets the
/// loss needs are written batch by batch into the trainer's target buffer, so no (samples, classes) matrix is
/// ever built. The features are used as given (not copied).
/// </summary>
/// <example>
/// <code>
/// var trainer = new Trainer&lt;float&gt;(net, new LabeledSamples&lt;float&gt;(x, labels, classes: 10));
/// </code>
/// </example>
public sealed class LabeledSamples<T> : ISampleSource<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly int[] _labels;

    /// <summary>Pairs row i of <paramref name="features"/> with class <paramref name="labels"/>[i].</summary>
    /// <param name="features">Inputs, (samples, features).</param>
    /// <param name="labels">One class index per sample; copied, so later changes to the array do not reach training.</param>
    /// <param name="classes">Number of classes: the network's outputs.</param>
    /// <exception cref="ShapeMismatchException">The labels and feature rows differ in number.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is not positive, or a label is outside [0, classes).</exception>
    public LabeledSamples(Matrix<T> features, ReadOnlySpan<int> labels, int classes)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        if (labels.Length != features.Rows)
            throw new ShapeMismatchException($"{features.Rows} feature rows but {labels.Length} labels.");
        for (int i = 0; i < labels.Length; i++)
            if ((uint)labels[i] >= (uint)classes)
                throw new ArgumentOutOfRangeException(nameof(labels), $"Label {labels[i]} at row {i} is outside [0, {classes}).");
        Features = features;
        _labels = labels.ToArray();
        TargetCount = classes;
    }

    /// <summary>Inputs, (samples, features).</summary>
    public Matrix<T> Features { get; }

    /// <summary>The class index of each sample.</summary>
    public IReadOnlyList<int> Labels => _labels;

    /// <inheritdoc/>
    public int Count => Features.Rows;

    /// <inheritdoc/>
    public int FeatureCount => Features.Cols;

    /// <inheritdoc/>
    public int TargetCount { get; }

    /// <inheritdoc/>
    public void Gather(ReadOnlySpan<int> rows, Matrix<T> features, Matrix<T> targets)
    {
        Features.GatherRowsInto(rows, features);
        targets.RequireCols(TargetCount, "Target batch");
        targets.SetRows(rows.Length);
        targets.Span.Clear();
        for (int i = 0; i < rows.Length; i++) targets.Row(i)[_labels[rows[i]]] = T.One;
    }

    /// <inheritdoc/>
    public int ClassOf(int row) => _labels[row];
}
