using System.Numerics;
using System.Numerics.Tensors;

namespace ScratchNet.Layers;

/// <summary>Hyperbolic tangent, y = tanh x; dy/dx = 1 − y².</summary>
public sealed class Tanh<T>(Shape shape) : Activation<T>(shape) where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public override string Kind => "tanh";

    /// <summary>Rebuilds the layer from its (empty) settings: the registry's reader.</summary>
    public static Tanh<T> Read(LayerSettings settings) => new(settings.Input);

    /// <inheritdoc/>
    protected override string OnnxOperator => "Tanh";

    /// <inheritdoc/>
    protected override void Activate(Matrix<T> input, Matrix<T> output) => TensorPrimitives.Tanh<T>(input.Span, output.Span);

    /// <inheritdoc/>
    protected override void Backpropagate(Matrix<T> output, Matrix<T> outputGradient, Matrix<T> inputGradient)
    {
        var y = output.Span;
        var dy = outputGradient.Span;
        var dx = inputGradient.Span;
        for (int i = 0; i < dx.Length; i++) dx[i] = dy[i] * (T.One - y[i] * y[i]);
    }
}
