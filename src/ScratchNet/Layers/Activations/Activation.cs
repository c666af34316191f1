using System.Numerics;

namespace ScratchNet.Layers;

/// <summary>
/// An element-wise layer without parameters, y = f(x), that keeps the sample shape. It owns the output and
/// input-gradient buffers; a subclass writes only the function and its derivative (and, when ONNX has the
/// operator under one name, that name).
/// </summary>
public abstract class Activation<T>(Shape shape) : Layer<T>(shape, shape) where T : unmanaged, IFloatingPointIeee754<T>
{
    private bool _ran;
    private Matrix<T>? _passedOn;   // applied by the layer before: the input the last forward pass handed on as its output

    /// <summary>
    /// Whether the layer before applies this function in its own output pass (see <see cref="Layer{T}.TakeActivation"/>): then
    /// the forward pass hands its input on as its output and the backward pass the gradient it is given, and the layer
    /// computes and keeps nothing. A network sets it when it builds and keeps it: the pair is one step of its chain.
    /// </summary>
    internal bool AppliedByLayerBefore { get; private set; }

    /// <summary>Marks the function as applied by the layer before it (see <see cref="AppliedByLayerBefore"/>).</summary>
    internal void HandToLayerBefore() => AppliedByLayerBefore = true;

    /// <summary>
    /// Whether the function can be applied to any slice of a tensor on its own (<see cref="ActivateSlice"/>,
    /// <see cref="BackpropagateSlice"/>): each element's value depends only on that element. False (the default) for a
    /// function of whole rows (softmax) or one without slice kernels.
    /// </summary>
    internal virtual bool AppliesToSlices => false;

    /// <summary>
    /// y = f(z) over one slice on the calling thread, in place (<paramref name="values"/> holds z and receives y), each
    /// element bit for bit as <see cref="Activate"/> computes it over the whole tensor.
    /// </summary>
    internal virtual void ActivateSlice(Span<T> values) => throw new NotSupportedException($"{this} has no slice kernel.");

    /// <summary>
    /// dL/dz = dL/dy·f′(z) over one slice on the calling thread, from the function's input z (not its output), each
    /// element bit for bit as <see cref="Backpropagate"/> computes it; <paramref name="inputGradient"/> may be <paramref name="input"/>.
    /// </summary>
    internal virtual void BackpropagateSlice(ReadOnlySpan<T> input, ReadOnlySpan<T> outputGradient, Span<T> inputGradient) =>
        throw new NotSupportedException($"{this} has no slice kernel.");

    /// <inheritdoc/>
    internal override bool BackwardReturnsInputGradient => !AppliedByLayerBefore;

    /// <inheritdoc/>
    internal override bool ForwardReturnsOutput => !AppliedByLayerBefore;

    /// <inheritdoc/>
    /// <remarks>False: <see cref="Backpropagate"/> is given the output, not the input. A subclass that keeps its input for the
    /// backward pass (GELU) must say so, or a network may let the layer before reuse that input's storage. True when the
    /// layer before applies the function: the input is then this layer's output too, which the next layer may read.</remarks>
    internal override bool BackwardReadsInput => AppliedByLayerBefore;

    /// <inheritdoc/>
    protected sealed override Matrix<T>? LastOutput => AppliedByLayerBefore ? _passedOn : _ran ? Output : null;

    /// <inheritdoc/>
    protected sealed override Matrix<T> ForwardCore(Matrix<T> input)
    {
        if (AppliedByLayerBefore) return _passedOn = input;
        Output.SetRows(input.Rows);
        Activate(input, Output);
        _ran = true;
        return Output;
    }

    /// <inheritdoc/>
    protected sealed override Matrix<T> BackwardCore(Matrix<T> outputGradient)
    {
        if (AppliedByLayerBefore) return outputGradient;
        InputGradient.SetRows(outputGradient.Rows);
        Backpropagate(Output, outputGradient, InputGradient);
        return InputGradient;
    }

    /// <summary>The ONNX operator that computes the function with no attributes, or null when the layer exports otherwise.</summary>
    protected virtual string? OnnxOperator => null;

    /// <inheritdoc/>
    public override string Export(IGraphBuilder<T> graph, string input, string name) =>
        OnnxOperator is { } op ? graph.AddNode(op, name, [input]) : base.Export(graph, input, name);

    /// <summary>Writes y = f(x) into <paramref name="output"/>, already shaped like <paramref name="input"/>.</summary>
    protected abstract void Activate(Matrix<T> input, Matrix<T> output);

    /// <summary>
    /// Writes dL/dx into <paramref name="inputGradient"/> from dL/dy, given the forward output
    /// <paramref name="output"/> (both activations so far have derivatives expressible through y).
    /// </summary>
    protected abstract void Backpropagate(Matrix<T> output, Matrix<T> outputGradient, Matrix<T> inputGradient);
}
