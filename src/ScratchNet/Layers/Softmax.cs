using System.Numerics;
using System.Numerics.Tensors;
using ScratchNet.Compute;

namespace ScratchNet.Layers;

/// <summary>
/// Row-wise softmax, p = exp(z − max z) / Σ exp(z − max z). When it ends a network trained with
/// cross-entropy, the network fuses it into the loss instead (see <see cref="Losses.SoftmaxCrossEntropy{T}"/>).
/// </summary>
public sealed class Softmax<T>(int size) : Layer<T>(size, size) where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Tensor<T> _output = new(0, size);         // (B, size): p, cached for Backward
    private readonly Tensor<T> _inputGradient = new(0, size);  // (B, size)
    private bool _ran;

    /// <inheritdoc/>
    public override string Kind => "softmax";

    /// <inheritdoc/>
    protected override Tensor<T>? LastOutput => _ran ? _output : null;

    /// <inheritdoc/>
    protected override Tensor<T> ForwardCore(Tensor<T> input)
    {
        _output.SetRows(input.Rows);
        for (int r = 0; r < input.Rows; r++) SoftmaxKernel.Row<T>(input.Row(r), _output.Row(r));
        _ran = true;
        return _output;
    }

    /// <inheritdoc/>
    protected override Tensor<T> BackwardCore(Tensor<T> outputGradient)
    {
        // The Jacobian is diag(p) − p·pᵀ, so dz = p ⊙ (dp − ⟨dp, p⟩) row by row.
        _inputGradient.SetRows(outputGradient.Rows);
        for (int r = 0; r < outputGradient.Rows; r++)
        {
            var p = _output.Row(r);
            var dp = outputGradient.Row(r);
            var dz = _inputGradient.Row(r);
            T dot = TensorPrimitives.Dot(dp, p);
            TensorPrimitives.Subtract(dp, dot, dz);
            TensorPrimitives.Multiply(dz, p, dz);
        }
        return _inputGradient;
    }
}
