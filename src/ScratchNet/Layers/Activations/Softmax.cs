using System.Numerics;
using System.Numerics.Tensors;
using ScratchNet.Compute;

namespace ScratchNet.Layers;

/// <summary>
/// Row-wise softmax, p = exp(z − max z) / Σ exp(z − max z). When it ends a network trained with
/// cross-entropy, the network fuses it into the loss instead (see <see cref="Losses.SoftmaxCrossEntropy{T}"/>).
/// </summary>
public sealed class Softmax<T>(Shape shape) : Activation<T>(shape) where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public override string Kind => "softmax";

    /// <summary>Rebuilds the layer from its (empty) settings: the registry's reader.</summary>
    public static Softmax<T> Read(LayerSettings settings) => new(settings.Input);

    /// <inheritdoc/>
    public override string Export(IGraphBuilder<T> graph, string input, string name) =>
        graph.AddNode("Softmax", name, [input], [new("axis", -1L)]);

    /// <inheritdoc/>
    protected override void Activate(Matrix<T> input, Matrix<T> output)
    {
        for (int r = 0; r < input.Rows; r++) SoftmaxKernel.Row<T>(input.Row(r), output.Row(r));
    }

    /// <inheritdoc/>
    protected override void Backpropagate(Matrix<T> output, Matrix<T> outputGradient, Matrix<T> inputGradient)
    {
        // The Jacobian is diag(p) − p·pᵀ, so dz = p ⊙ (dp − ⟨dp, p⟩) row by row.
        for (int r = 0; r < output.Rows; r++)
        {
            var p = output.Row(r);
            var dp = outputGradient.Row(r);
            var dz = inputGradient.Row(r);
            TensorPrimitives.Subtract(dp, TensorPrimitives.Dot(dp, p), dz);
            TensorPrimitives.Multiply(dz, p, dz);
        }
    }
}
