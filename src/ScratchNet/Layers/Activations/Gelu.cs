using System.Numerics;
using ScratchNet.Compute;

namespace ScratchNet.Layers;

/// <summary>The two forms of GELU, named as PyTorch's <c>approximate</c> argument names them.</summary>
public enum GeluApproximation
{
    /// <summary>The exact GELU, x·Φ(x) with Φ the standard normal CDF: PyTorch's <c>nn.GELU()</c> default.</summary>
    None,

    /// <summary>The tanh approximation, x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))/2: <c>nn.GELU(approximate='tanh')</c>.</summary>
    Tanh,
}

/// <summary>
/// GELU, exact or in its tanh form (<see cref="GeluApproximation"/>; the layer's setting <c>approximate</c> is
/// <c>"none"</c> or <c>"tanh"</c>). Exact: y = x·Φ(x), dy/dx = Φ(x) + x·φ(x). Tanh: y = x·(1 + t)/2 with
/// u = √(2/π)·(x + 0.044715·x³), t = tanh u; dy/dx = (1 + t)/2 + x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²)/2.
/// The derivative needs x: the layer keeps a reference to its input (layers never write their inputs) and the
/// backward recomputes Φ or t from it (<see cref="GeluKernels"/>: vectorised, over the thread team).
/// The tanh form is the default, here and for an entry without <c>approximate</c>: it was the only form before the exact
/// one, so code and model files from then keep their meaning.
/// </summary>
public sealed class Gelu<T>(Shape shape, GeluApproximation approximate = GeluApproximation.Tanh) : Activation<T>(shape)
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private Matrix<T>? _input;                                // (B, size): x of the last forward pass (the layer before owns it)
    private readonly GeluJob<T> _job = new() { Approximate = approximate };

    /// <summary>Which form the layer computes.</summary>
    public GeluApproximation Approximate { get; } = Enum.IsDefined(approximate)
        ? approximate
        : throw new ArgumentOutOfRangeException(nameof(approximate), approximate, "GELU is exact (None) or the tanh form (Tanh).");

    /// <inheritdoc/>
    public override string Kind => "gelu";

    /// <inheritdoc/>
    /// <remarks>Written only for the exact form, as Linear's <c>bias</c> only when false: a tanh GELU's entry reads as in earlier files.</remarks>
    public override IEnumerable<KeyValuePair<string, object>> Settings =>
        Approximate == GeluApproximation.None ? [new("approximate", "none")] : [];

    /// <summary>Rebuilds the layer from its settings (without <c>approximate</c>: the tanh form): the registry's reader.</summary>
    public static Gelu<T> Read(LayerSettings settings) =>
        new(settings.Input, settings.OptionalString("approximate", "tanh", "none", "tanh") == "none" ? GeluApproximation.None : GeluApproximation.Tanh);

    /// <inheritdoc/>
    /// <remarks>ONNX has Gelu only from opset 20: both forms are written out in opset-13 operators (Erf, Tanh).</remarks>
    public override string Export(IGraphBuilder<T> graph, string input, string name)
    {
        string Constant(string what, double value) => graph.AddInitializer($"{name}.{what}", [T.CreateChecked(value)], new Shape(1));
        string onePlus;
        if (Approximate == GeluApproximation.None)
        {
            string erf = graph.AddNode("Erf", name, [graph.AddNode("Mul", name, [input, Constant("inverse_root_2", Math.Sqrt(0.5))])]);
            onePlus = graph.AddNode("Add", name, [erf, Constant("one", 1)]);
        }
        else
        {
            string cubic = graph.AddNode("Mul", name, [graph.AddNode("Mul", name, [input, input]), input]);
            string inner = graph.AddNode("Add", name, [input, graph.AddNode("Mul", name, [cubic, Constant("cubic", 0.044715)])]);
            string t = graph.AddNode("Tanh", name, [graph.AddNode("Mul", name, [inner, Constant("root_2_over_pi", Math.Sqrt(2 / Math.PI))])]);
            onePlus = graph.AddNode("Add", name, [t, Constant("one", 1)]);
        }
        return graph.AddNode("Mul", name, [graph.AddNode("Mul", name, [input, onePlus]), Constant("half", 0.5)]);
    }

    /// <inheritdoc/>
    internal override bool BackwardReadsInput => true;

    /// <inheritdoc/>
    internal override bool AppliesToSlices => true;

    /// <inheritdoc/>
    internal override void ActivateSlice(Span<T> values) => GeluKernels.ForwardSpan<T>(Approximate, values, values);

    /// <inheritdoc/>
    internal override void BackpropagateSlice(ReadOnlySpan<T> input, ReadOnlySpan<T> outputGradient, Span<T> inputGradient) =>
        GeluKernels.BackwardSpan(Approximate, input, outputGradient, inputGradient);

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
