using System.Numerics;
using System.Numerics.Tensors;

namespace ScratchNet.Layers;

/// <summary>Logistic sigmoid, y = 1 / (1 + e^−x); dy/dx = y·(1 − y).</summary>
public sealed class Sigmoid<T>(int size) : Activation<T>(size) where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public override string Kind => "sigmoid";

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
