using System.Numerics;

namespace ScratchNet.Layers;

/// <summary>
/// GELU in its tanh form (PyTorch's <c>gelu(approximate='tanh')</c>): y = x·(1 + tanh u)/2 with
/// u = √(2/π)·(x + 0.044715·x³); dy/dx = (1 + t)/2 + x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²)/2, t = tanh u.
/// The derivative needs x, so the layer keeps a copy of its input.
/// </summary>
public sealed class Gelu<T>(Shape shape) : Activation<T>(shape) where T : unmanaged, IFloatingPointIeee754<T>
{
    private static readonly T Root2OverPi = T.CreateChecked(Math.Sqrt(2 / Math.PI));
    private static readonly T Cubic = T.CreateChecked(0.044715);
    private static readonly T Half = T.CreateChecked(0.5);
    private static readonly T Three = T.CreateChecked(3);

    private readonly Matrix<T> _input = new(0, shape.Size);   // (B, size): x of the last forward pass

    /// <inheritdoc/>
    public override string Kind => "gelu";

    /// <summary>Rebuilds the layer from its (empty) settings: the registry's reader.</summary>
    public static Gelu<T> Read(LayerSettings settings) => new(settings.Input);

    /// <inheritdoc/>
    /// <remarks>ONNX has Gelu only from opset 20: the tanh form is written out in opset-13 operators.</remarks>
    public override string Export(IGraphBuilder<T> graph, string input, string name)
    {
        string Constant(string what, double value) => graph.AddInitializer($"{name}.{what}", [T.CreateChecked(value)], new Shape(1));
        string cubic = graph.AddNode("Mul", name, [graph.AddNode("Mul", name, [input, input]), input]);
        string inner = graph.AddNode("Add", name, [input, graph.AddNode("Mul", name, [cubic, Constant("cubic", 0.044715)])]);
        string t = graph.AddNode("Tanh", name, [graph.AddNode("Mul", name, [inner, Constant("root_2_over_pi", Math.Sqrt(2 / Math.PI))])]);
        string onePlusT = graph.AddNode("Add", name, [t, Constant("one", 1)]);
        return graph.AddNode("Mul", name, [graph.AddNode("Mul", name, [input, onePlusT]), Constant("half", 0.5)]);
    }

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
