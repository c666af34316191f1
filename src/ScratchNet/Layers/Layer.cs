using System.Numerics;
using ScratchNet.Optimizers;

namespace ScratchNet.Layers;

/// <summary>
/// One step of a sequential network, with its hand-derived backward pass beside its forward pass.
/// Tensors flow as (batch, features).
/// </summary>
/// <remarks>
/// <see cref="Forward"/> caches what <see cref="Backward"/> needs; <see cref="Backward"/> must follow the
/// <see cref="Forward"/> of the same batch. Both return tensors the layer owns and reuses: they stay
/// valid until the layer's next call. Backward never modifies the gradient it is given.
/// </remarks>
public abstract class Layer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates a layer that reads <paramref name="inputSize"/> features and writes <paramref name="outputSize"/>.</summary>
    protected Layer(int inputSize, int outputSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outputSize);
        InputSize = inputSize;
        OutputSize = outputSize;
    }

    /// <summary>Features per input sample.</summary>
    public int InputSize { get; }

    /// <summary>Features per output sample.</summary>
    public int OutputSize { get; }

    /// <summary>A short lower-case name of the layer type, e.g. "linear".</summary>
    public abstract string Kind { get; }

    /// <summary>
    /// Training mode (true) or inference mode (false, the default). Only layers that behave differently
    /// in training read it (<see cref="Dropout{T}"/>, <see cref="BatchNorm1d{T}"/>). <see cref="Network{T}"/>
    /// sets it on every layer: true while <see cref="Network{T}.ComputeGradients"/> or
    /// <see cref="Network{T}.TrainStep"/> runs, false while <see cref="Network{T}.Predict"/> or
    /// <see cref="Network{T}.Evaluate(Matrix{T}, Matrix{T})"/> runs, and back to what it was afterwards.
    /// </summary>
    public bool Training { get; set; }

    /// <summary>The layer's trainable parameters (none for activations).</summary>
    public virtual IReadOnlyList<Parameter<T>> Parameters => [];

    /// <summary>Computes the output, (batch, <see cref="OutputSize"/>), of <paramref name="input"/>, (batch, <see cref="InputSize"/>).</summary>
    /// <exception cref="ShapeMismatchException"><paramref name="input"/> does not have <see cref="InputSize"/> columns.</exception>
    public Matrix<T> Forward(Matrix<T> input)
    {
        input.RequireCols(InputSize, "Input", this);
        return ForwardCore(input);
    }

    /// <summary>
    /// Given dL/d output, (batch, <see cref="OutputSize"/>), adds dL/d parameter into each parameter's
    /// gradient and returns dL/d input, (batch, <see cref="InputSize"/>).
    /// </summary>
    /// <exception cref="ShapeMismatchException">The gradient's shape is not that of the last output.</exception>
    /// <exception cref="InvalidOperationException">No forward pass has run.</exception>
    public Matrix<T> Backward(Matrix<T> outputGradient)
    {
        var output = LastOutput ?? throw new InvalidOperationException($"{this}: Backward called before Forward.");
        outputGradient.RequireShape(output.Rows, OutputSize, "Output gradient", this);
        return BackwardCore(outputGradient);
    }

    /// <summary>
    /// Backward and an SGD step in one: returns dL/d input (or null when <paramref name="needInputGradient"/>
    /// is false and the layer can skip it) and updates the parameters with <paramref name="step"/>. The
    /// base runs <see cref="Backward"/> and then one fused update pass per parameter; a layer may fuse more.
    /// Parameter gradients must be zero on entry and are zero on exit.
    /// </summary>
    public virtual Matrix<T>? BackwardAndStep(Matrix<T> outputGradient, SgdStep<T> step, bool needInputGradient)
    {
        var inputGradient = Backward(outputGradient);
        var parameters = Parameters;
        for (int i = 0; i < parameters.Count; i++) step.Apply(parameters[i]);   // not foreach: an interface enumerator allocates
        return inputGradient;
    }

    /// <summary>The output of the last forward pass, or null before the first.</summary>
    protected abstract Matrix<T>? LastOutput { get; }

    /// <summary>Forward pass on an input whose width has been checked.</summary>
    protected abstract Matrix<T> ForwardCore(Matrix<T> input);

    /// <summary>Backward pass on a gradient whose shape has been checked.</summary>
    protected abstract Matrix<T> BackwardCore(Matrix<T> outputGradient);

    /// <inheritdoc/>
    public override string ToString() => $"{Kind}({InputSize} -> {OutputSize})";
}
