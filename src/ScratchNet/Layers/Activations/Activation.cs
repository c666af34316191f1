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

    /// <inheritdoc/>
    internal override bool BackwardReturnsInputGradient => true;

    /// <inheritdoc/>
    internal override bool ForwardReturnsOutput => true;

    /// <inheritdoc/>
    /// <remarks>False: <see cref="Backpropagate"/> is given the output, not the input. A subclass that keeps its input for the
    /// backward pass (GELU) must say so, or a network may let the layer before reuse that input's storage.</remarks>
    internal override bool BackwardReadsInput => false;

    /// <inheritdoc/>
    protected sealed override Matrix<T>? LastOutput => _ran ? Output : null;

    /// <inheritdoc/>
    protected sealed override Matrix<T> ForwardCore(Matrix<T> input)
    {
        Output.SetRows(input.Rows);
        Activate(input, Output);
        _ran = true;
        return Output;
    }

    /// <inheritdoc/>
    protected sealed override Matrix<T> BackwardCore(Matrix<T> outputGradient)
    {
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
