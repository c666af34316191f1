using System.Numerics;
using System.Numerics.Tensors;

namespace ScratchNet.Layers;

/// <summary>Rectified linear unit, y = max(0, x); its gradient passes where y &gt; 0 (0 at x = 0, as in PyTorch).</summary>
public sealed class Relu<T>(Shape shape) : Activation<T>(shape) where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public override string Kind => "relu";

    /// <summary>Rebuilds the layer from its (empty) settings: the registry's reader.</summary>
    public static Relu<T> Read(LayerSettings settings) => new(settings.Input);

    /// <inheritdoc/>
    protected override string OnnxOperator => "Relu";

    /// <inheritdoc/>
    protected override void Activate(Matrix<T> input, Matrix<T> output) => TensorPrimitives.Max(input.Span, T.Zero, output.Span);

    /// <inheritdoc/>
    internal override bool AppliesToSlices => true;

    /// <inheritdoc/>
    internal override void ActivateSlice(Span<T> values) => TensorPrimitives.Max(values, T.Zero, values);

    /// <inheritdoc/>
    /// <remarks>z &gt; 0 exactly where y = max(0, z) &gt; 0: the same gradient as from the output.</remarks>
    internal override void BackpropagateSlice(ReadOnlySpan<T> input, ReadOnlySpan<T> outputGradient, Span<T> inputGradient)
    {
        for (int i = 0; i < inputGradient.Length; i++) inputGradient[i] = input[i] > T.Zero ? outputGradient[i] : T.Zero;
    }

    /// <inheritdoc/>
    protected override void Backpropagate(Matrix<T> output, Matrix<T> outputGradient, Matrix<T> inputGradient)
    {
        var y = output.Span;
        var dy = outputGradient.Span;
        var dx = inputGradient.Span;
        for (int i = 0; i < dx.Length; i++) dx[i] = y[i] > T.Zero ? dy[i] : T.Zero;
    }
}
