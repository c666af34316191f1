using System.Numerics;
using System.Numerics.Tensors;
using ScratchNet.Compute;

namespace ScratchNet.Losses;

/// <summary>
/// Softmax and cross-entropy fused: the input is the logits z, p = softmax(z), and
/// L = (1/B) Σ_b −Σ_j y_bj·log p_bj with log p = z − logΣexp(z), which is finite even where p rounds
/// to 0. The gradient is dL/dz = (p·Σ_j y_bj − y)/B, i.e. (p − y)/B for one-hot or probability targets.
/// </summary>
public sealed class SoftmaxCrossEntropy<T> : LossFunction<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private Matrix<T> _probabilities = new(0, 0); // (B, k): p
    private Matrix<T>? _target;                  // (B, k): y, cached for Backward
    private Matrix<T> _gradient = new(0, 0);       // (B, k)

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
        double total = 0;
        for (int r = 0; r < input.Rows; r++)
        {
            var z = input.Row(r);
            var y = target.Row(r);
            var p = _probabilities.Row(r);
            var dz = _gradient.Row(r);
            T logSumExp = SoftmaxKernel.Row<T>(z, p);
            T targetMass = TensorPrimitives.Sum(y);
            // −Σ y·(z − lse) = lse·Σy − Σ y·z
            total += double.CreateChecked(logSumExp * targetMass - TensorPrimitives.Dot(y, z));
            // (p·Σy − y)/B
            TensorPrimitives.Multiply(p, targetMass, dz);
            TensorPrimitives.Subtract(dz, y, dz);
            TensorPrimitives.Multiply(dz, invBatch, dz);
        }
        return total / input.Rows;
    }

    /// <inheritdoc/>
    public override Matrix<T> Backward() =>
        _target is null ? throw new InvalidOperationException("Cross-entropy: no forward pass yet.") : _gradient;
}
