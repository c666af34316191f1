using System.Numerics;
using System.Numerics.Tensors;

namespace ScratchNet.Data;

/// <summary>A named set of samples held as tensors: <see cref="Features"/> (samples, inputs) and <see cref="Targets"/> (samples, outputs), row for row.</summary>
public sealed record Dataset<T> : ISampleSource<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Pairs features with targets.</summary>
    /// <exception cref="ShapeMismatchException">They differ in rows.</exception>
    public Dataset(string name, Matrix<T> features, Matrix<T> targets)
    {
        if (features.Rows != targets.Rows)
            throw new ShapeMismatchException($"Dataset '{name}': {features.Rows} feature rows but {targets.Rows} target rows.");
        Name = name;
        Features = features;
        Targets = targets;
    }

    /// <summary>A short name, e.g. "digits".</summary>
    public string Name { get; }

    /// <summary>Inputs, (samples, features).</summary>
    public Matrix<T> Features { get; }

    /// <summary>Targets, (samples, outputs): one-hot class rows, or regression values.</summary>
    public Matrix<T> Targets { get; }

    /// <inheritdoc/>
    public int Count => Features.Rows;

    /// <inheritdoc/>
    public int FeatureCount => Features.Cols;

    /// <inheritdoc/>
    public int TargetCount => Targets.Cols;

    /// <inheritdoc/>
    public void Gather(ReadOnlySpan<int> rows, Matrix<T> features, Matrix<T> targets)
    {
        Features.GatherRowsInto(rows, features);
        Targets.GatherRowsInto(rows, targets);
    }

    /// <inheritdoc/>
    public int ClassOf(int row) => TensorPrimitives.IndexOfMax<T>(Targets.Row(row));

    /// <summary>Builds one-hot targets, (labels, <paramref name="classes"/>), from class indices.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A label is outside [0, classes).</exception>
    public static Matrix<T> OneHot(ReadOnlySpan<int> labels, int classes)
    {
        var targets = new Matrix<T>(labels.Length, classes);
        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)classes)
                throw new ArgumentOutOfRangeException(nameof(labels), $"Label {labels[i]} at row {i} is outside [0, {classes}).");
            targets[i, labels[i]] = T.One;
        }
        return targets;
    }
}
