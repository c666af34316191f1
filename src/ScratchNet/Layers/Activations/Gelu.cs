using System.Numerics;
using ScratchNet.Compute;

namespace ScratchNet.Layers;

/// <summary>
/// GELU in its tanh form (PyTorch's <c>gelu(approximate='tanh')</c>): y = x·(1 + tanh u)/2 with
/// u = √(2/π)·(x + 0.044715·x³); dy/dx = (1 + t)/2 + x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²)/2, t = tanh u.
/// The derivative needs x and t: the layer keeps a reference to its input (layers never write their inputs) and the
/// backward recomputes t from it (<see cref="GeluKernels"/>: vectorised, over the thread team).
/// </summary>
public sealed class Gelu<T>(Shape shape) : Activation<T>(shape) where T : unmanaged, IFloatingPointIeee754<T>
{
    private Matrix<T>? _input;                                // (B, size): x of the last forward pass (the layer before owns it)
    private readonly GeluJob<T> _job = new();

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
    internal override bool BackwardReadsInput => true;

    /// <inheritdoc/>
    internal override bool BackwardReadsOutput => false;

    /// <inheritdoc/>
    protected override void Activate(Matrix<T> input, Matrix<T> output)
    {
        _input = input;
        GeluKernels.Forward<T>(input.Span, output.Span, _job);
    }

    /// <inheritdoc/>
    protected override void Backpropagate(Matrix<T> output, Matrix<T> outputGradient, Matrix<T> inputGradient) =>
        GeluKernels.Backward<T>(_input!.Span, outputGradient.Span, inputGradient.Span, _job);
}
