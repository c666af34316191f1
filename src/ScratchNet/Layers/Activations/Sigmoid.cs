using System.Numerics;
using System.Numerics.Tensors;

namespace ScratchNet.Layers;

/// <summary>Logistic sigmoid, y = 1 / (1 + e^−x); dy/dx = y·(1 − y).</summary>
public sealed class Sigmoid<T>(Shape shape) : Activation<T>(shape) where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public override string Kind => "sigmoid";

    /// <summary>Rebuilds the layer from its (empty) settings: the registry's reader.</summary>
    public static Sigmoid<T> Read(LayerSettings settings) => new(settings.Input);

    /// <inheritdoc/>
    protected override string OnnxOperator => "Sigmoid";

    /// <inheritdoc/>
    protected override void Activate(Matrix<T> input, Matrix<T> output) => TensorPrimitives.Sigmoid<T>(input.Span, output.Span);

    /// <inheritdoc/>
    protected override void Backpropagate(Matrix<T> output, Matrix<T> outputGradient, Matrix<T> inputGradient)
    {
        var y = output.Span;
        var dy = outputGradient.Span;
        var dx = inputGradient.Span;
        for (int i = 0; i < dx.Length; i++) dx[i] = dy[i] * y[i] * (T.One - y[i]);
    }
}
