using System.Numerics;

namespace ScratchNet.Data;

/// <summary>
/// Samples that training and evaluation draw batches from, by row index. A source may store its
/// samples compactly (e.g. image bytes) and convert only the rows of a batch to <typeparamref name="T"/>.
/// </summary>
public interface ISampleSource<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Number of samples.</summary>
    int Count { get; }

    /// <summary>Features per sample: the network's inputs.</summary>
    int FeatureCount { get; }

    /// <summary>Target values per sample: the network's outputs (classes, for one-hot targets).</summary>
    int TargetCount { get; }

    /// <summary>
    /// Writes the samples <paramref name="rows"/>, in that order, into <paramref name="features"/>
    /// (rows, <see cref="FeatureCount"/>) and <paramref name="targets"/> (rows, <see cref="TargetCount"/>),
    /// resizing their row counts.
    /// </summary>
    void Gather(ReadOnlySpan<int> rows, Matrix<T> features, Matrix<T> targets);

    /// <summary>The class of sample <paramref name="row"/>: the index of its largest target value.</summary>
    int ClassOf(int row);
}
