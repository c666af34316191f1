using System.Numerics;

namespace ScratchNet.Layers;

/// <summary>
/// GELU in its tanh form (PyTorch's <c>gelu(approximate='tanh')</c>): y = x·(1 + tanh u)/2 with
/// u = √(2/π)·(x + 0.044715·x³); dy/dx = (1 + t)/2 + x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²)/2, t = tanh u.
/// The derivative needs x, so the layer keeps a copy of its input.
/// </summary>
public sealed class Gelu<T>(int size) : Activation<T>(size) where T : unmanaged, IFloatingPointIeee754<T>
{
    private static readonly T Root2OverPi = T.CreateChecked(Math.Sqrt(2 / Math.PI));
    private static readonly T Cubic = T.CreateChecked(0.044715);
    private static readonly T Half = T.CreateChecked(0.5);
    private static readonly T Three = T.CreateChecked(3);

    private readonly Matrix<T> _input = new(0, size);   // (B, size): x of the last forward pass

    /// <inheritdoc/>
    public override string Kind => "gelu";

    /// <inheritdoc/>
    protected override void Activate(Matrix<T> input, Matrix<T> output)
    {
        _input.SetRows(input.Rows);
        input.Span.CopyTo(_input.Span);
        var x = input.Span;
        var y = output.Span;
        for (int i = 0; i < y.Length; i++)
        {
            T xi = x[i];
            y[i] = Half * xi * (T.One + T.Tanh(Root2OverPi * (xi + Cubic * xi * xi * xi)));
        }
    }

    /// <inheritdoc/>
    protected override void Backpropagate(Matrix<T> output, Matrix<T> outputGradient, Matrix<T> inputGradient)
    {
        var x = _input.Span;
        var dy = outputGradient.Span;
        var dx = inputGradient.Span;
        for (int i = 0; i < dx.Length; i++)
        {
            T xi = x[i];
            T t = T.Tanh(Root2OverPi * (xi + Cubic * xi * xi * xi));
            T du = Root2OverPi * (T.One + Three * Cubic * xi * xi);
            dx[i] = dy[i] * Half * (T.One + t + xi * (T.One - t * t) * du);
        }
    }
}
