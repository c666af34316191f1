using System.Numerics;

namespace ScratchNet.Losses;

/// <summary>Which loss a network trains with.</summary>
public enum Loss
{
    /// <summary>Per sample the sum of squared errors over the outputs, averaged over the batch (the report's "l2").</summary>
    L2,

    /// <summary>Per sample −Σ y·log p over a final softmax, averaged over the batch (the report's "ce"); fused with the softmax.</summary>
    CrossEntropy,
}

/// <summary>
/// A loss over a batch: <see cref="Forward"/> returns the batch mean, <see cref="Backward"/> its
/// gradient with respect to the loss's input, (batch, outputs).
/// </summary>
public abstract class LossFunction<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the loss for <paramref name="kind"/>.</summary>
    public static LossFunction<T> Create(Loss kind) => kind switch
    {
        Loss.L2 => new L2Loss<T>(),
        Loss.CrossEntropy => new SoftmaxCrossEntropy<T>(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown loss."),
    };

    /// <summary>The mean loss of the batch; caches what <see cref="Backward"/> needs.</summary>
    /// <exception cref="ShapeMismatchException">input and target differ in shape.</exception>
    public double Forward(Matrix<T> input, Matrix<T> target)
    {
        target.RequireShape(input.Rows, input.Cols, "Loss target");
        return ForwardCore(input, target);
    }

    /// <summary>The network's prediction for the last batch: the input itself for L2, the probabilities for cross-entropy.</summary>
    public abstract Matrix<T> Prediction { get; }

    /// <summary>d (mean loss) / d input for the last batch, (batch, outputs).</summary>
    public abstract Matrix<T> Backward();

    /// <summary><see cref="Forward"/> after the shape check.</summary>
    protected abstract double ForwardCore(Matrix<T> input, Matrix<T> target);
}
