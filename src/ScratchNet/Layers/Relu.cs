using System.Numerics;
using System.Numerics.Tensors;

namespace ScratchNet.Layers;

/// <summary>Rectified linear unit, y = max(0, x); its gradient passes where y &gt; 0 (0 at x = 0, as in PyTorch).</summary>
public sealed class Relu<T>(int size) : Layer<T>(size, size) where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Tensor<T> _output = new(0, size);         // (B, size), also Backward's mask
    private readonly Tensor<T> _inputGradient = new(0, size);  // (B, size)
    private bool _ran;

    /// <inheritdoc/>
    public override string Kind => "relu";

    /// <inheritdoc/>
    protected override Tensor<T>? LastOutput => _ran ? _output : null;

    /// <inheritdoc/>
    protected override Tensor<T> ForwardCore(Tensor<T> input)
    {
        _output.SetRows(input.Rows);
        TensorPrimitives.Max(input.Span, T.Zero, _output.Span);
        _ran = true;
        return _output;
    }

    /// <inheritdoc/>
    protected override Tensor<T> BackwardCore(Tensor<T> outputGradient)
    {
        _inputGradient.SetRows(outputGradient.Rows);
        var dy = outputGradient.Span;
        var y = _output.Span;
        var dx = _inputGradient.Span;
        for (int i = 0; i < dx.Length; i++) dx[i] = y[i] > T.Zero ? dy[i] : T.Zero;
        return _inputGradient;
    }
}
