using System.Numerics;
using System.Numerics.Tensors;
using ScratchNet.Compute;

namespace ScratchNet.Losses;

/// <summary>
/// Softmax and cross-entropy fused: the input is the logits z, p = softmax(z), and
/// L = (1/B) Σ_b −Σ_j y_bj·log p_bj with log p = z − logΣexp(z), which is finite even where p rounds
/// to 0. The gradient is dL/dz = (p·Σ_j y_bj − y)/B, i.e. (p − y)/B for one-hot or probability targets.
/// With label smoothing ε (PyTorch's <c>label_smoothing</c>) the targets become y' = (1 − ε)·y + ε/k over the k
/// classes, so that L = (1 − ε)·CE(y) + ε·mean_j(−log p_j) for one-hot y, and dL/dz = (p·Σy' − y')/B.
/// </summary>
public sealed class SoftmaxCrossEntropy<T> : LossFunction<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private Matrix<T> _probabilities = new(0, 0); // (B, k): p
    private Matrix<T>? _target;                  // (B, k): y, cached for Backward
    private Matrix<T> _gradient = new(0, 0);       // (B, k)
    private double _labelSmoothing;

    /// <summary>ε in [0, 1): the share of each target spread evenly over the classes (PyTorch's <c>label_smoothing</c>); 0 by default.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is outside [0, 1).</exception>
    public double LabelSmoothing
    {
        get => _labelSmoothing;
        set => _labelSmoothing = value is >= 0 and < 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Label smoothing must be in [0, 1).");
    }

    /// <inheritdoc/>
    public override Matrix<T> Prediction => _target is null ? throw new InvalidOperationException("Cross-entropy: no forward pass yet.") : _probabilities;

    /// <inheritdoc/>
    /// <remarks>One pass per row: probabilities, the row's loss and its gradient, which <see cref="Backward"/> then returns.</remarks>
    protected override double ForwardCore(Matrix<T> input, Matrix<T> target)
    {
        _target = target;
        Workspace.Fit(ref _probabilities, input.Rows, input.Cols);
        Workspace.Fit(ref _gradient, input.Rows, input.Cols);
        T invBatch = T.One / T.CreateChecked(input.Rows);
        T keep = T.CreateChecked(1 - _labelSmoothing), spread = T.CreateChecked(_labelSmoothing) / T.CreateChecked(input.Cols);
        bool smoothing = _labelSmoothing != 0;
        double total = 0;
        for (int r = 0; r < input.Rows; r++)
        {
            var z = input.Row(r);
            var y = target.Row(r);
            var p = _probabilities.Row(r);
            var dz = _gradient.Row(r);
            T logSumExp = SoftmaxKernel.Row<T>(z, p);
            T targetMass = TensorPrimitives.Sum(y);
            if (!smoothing)
            {
                // −Σ y·(z − lse) = lse·Σy − Σ y·z
                total += double.CreateChecked(logSumExp * targetMass - TensorPrimitives.Dot(y, z));
                // (p·Σy − y)/B
                TensorPrimitives.Multiply(p, targetMass, dz);
                TensorPrimitives.Subtract(dz, y, dz);
                TensorPrimitives.Multiply(dz, invBatch, dz);
                continue;
            }
            // y' = keep·y + spread: Σy' = keep·Σy + k·spread, Σ y'·z = keep·Σ y·z + spread·Σ z.
            T smoothedMass = keep * targetMass + spread * T.CreateChecked(z.Length);
            total += double.CreateChecked(logSumExp * smoothedMass - keep * TensorPrimitives.Dot(y, z) - spread * TensorPrimitives.Sum(z));
            // (p·Σy' − keep·y − spread)/B
            TensorPrimitives.Multiply(p, smoothedMass, dz);
            TensorPrimitives.MultiplyAdd(y, -keep, dz, dz);
            TensorPrimitives.Subtract(dz, spread, dz);
            TensorPrimitives.Multiply(dz, invBatch, dz);
        }
        return total / input.Rows;
    }

    /// <inheritdoc/>
    public override Matrix<T> Backward() =>
        _target is null ? throw new InvalidOperationException("Cross-entropy: no forward pass yet.") : _gradient;
}
