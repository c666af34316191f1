using System.Numerics;
using ScratchNet.Optimizers;

namespace ScratchNet.Layers;

/// <summary>
/// A module of a network: a forward pass with its hand-derived backward pass beside it, the per-sample
/// shapes it reads and writes, its named state (trainable <see cref="Parameters"/> and non-trainable
/// <see cref="Buffers"/>) and its <see cref="Children"/>. Batches flow as (batch, shape size) matrices.
/// </summary>
/// <remarks>
/// <see cref="Forward"/> caches what <see cref="Backward(Matrix{T})"/> needs; <see cref="Backward(Matrix{T})"/> must follow the
/// <see cref="Forward"/> of the same batch. Both return matrices the layer owns and reuses: they stay
/// valid until the layer's next call (in a network, an input gradient until the layer before has run backward). Backward never modifies the gradient it is given, and adds into
/// its parameters' gradients (the network zeroes them once per step).
/// A layer type is saved and loaded through the <see cref="LayerRegistry"/>: its <see cref="Kind"/> names
/// it and its <see cref="Settings"/> rebuild it.
/// </remarks>
public abstract class Layer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private bool _training;

    /// <summary>Creates a layer that reads samples of <paramref name="inputShape"/> and writes <paramref name="outputShape"/>.</summary>
    protected Layer(Shape inputShape, Shape outputShape)
    {
        InputShape = inputShape;
        OutputShape = outputShape;
        InputSize = inputShape.Size;
        OutputSize = outputShape.Size;
        InputGradient = new Matrix<T>(0, InputSize);
        Output = new Matrix<T>(0, OutputSize);
    }

    /// <summary>Creates a layer that reads <paramref name="inputSize"/> features and writes <paramref name="outputSize"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    protected Layer(int inputSize, int outputSize)
        : this(new Shape(Positive(inputSize, nameof(inputSize))), new Shape(Positive(outputSize, nameof(outputSize))))
    {
    }

    /// <summary>The shape of one input sample, e.g. (784) or (3, 32, 32).</summary>
    public Shape InputShape { get; }

    /// <summary>The shape of one output sample.</summary>
    public Shape OutputShape { get; }

    /// <summary>Elements per input sample: <see cref="InputShape"/>'s size, the input matrix's columns.</summary>
    public int InputSize { get; }

    /// <summary>Elements per output sample.</summary>
    public int OutputSize { get; }

    /// <summary>
    /// dL/d input, (batch, <see cref="InputSize"/>): the matrix a layer's backward pass sizes (SetRows), writes and returns.
    /// Outside a network it is the layer's own. In a network's chain the layers after the first take turns in two buffers the
    /// network shares among them (see <see cref="BackwardReturnsInputGradient"/>): the gradient a layer returns is read by
    /// the layer before it and is dead once that layer's backward has run, so one network holds two gradients at a time
    /// instead of one per layer.
    /// </summary>
    protected Matrix<T> InputGradient { get; }

    /// <summary>
    /// Whether <see cref="Backward(Matrix{T})"/> returns <see cref="InputGradient"/> (and nothing else): only then may the network let
    /// the layer share that buffer. False (the default) for a layer that returns the gradient it was given (a reshape) or
    /// one of its children's: the network then treats the gradient as still the one the layer was given.
    /// </summary>
    internal virtual bool BackwardReturnsInputGradient => false;

    /// <summary>
    /// The forward pass's result, (batch, <see cref="OutputSize"/>), for a layer that computes one into a buffer of its own
    /// (<see cref="ForwardReturnsOutput"/>). A network may put it in scratch storage shared with other layers when neither
    /// this layer's backward nor the next layer's reads it (<see cref="BackwardReadsOutput"/>, <see cref="BackwardReadsInput"/>):
    /// a convolution feeding a max-pool, whose output is dead once the pool has run.
    /// </summary>
    protected Matrix<T> Output { get; }

    /// <summary>Whether <see cref="Forward"/> returns <see cref="Output"/> (false, the default: its input, or a child's output).</summary>
    internal virtual bool ForwardReturnsOutput => false;

    /// <summary>Whether the backward pass reads the input the forward pass was given (true, the default, unless a layer knows better).</summary>
    internal virtual bool BackwardReadsInput => true;

    /// <summary>Whether the backward pass reads the forward pass's output (true, the default, unless a layer knows better).</summary>
    internal virtual bool BackwardReadsOutput => true;

    /// <summary>Puts <see cref="Output"/> in <paramref name="storage"/>, shared with other layers' scratch outputs (null: its own again).</summary>
    internal void ShareOutput(SharedStorage<T>? storage) => Output.ShareStorage(storage);

    /// <summary>The array <see cref="InputGradient"/> lives in now (for tests of the sharing).</summary>
    internal object InputGradientArray() => InputGradient.Storage;

    /// <summary>The array <see cref="Output"/> lives in now (for tests of the sharing).</summary>
    internal object OutputArray() => Output.Storage;

    /// <summary>Lets <see cref="InputGradient"/> take turns in <paramref name="storage"/> with other layers' (null: its own again).</summary>
    internal void ShareInputGradient(SharedStorage<T>? storage) => InputGradient.ShareStorage(storage);

    /// <summary>
    /// Offers this layer the activation that follows it in a network's chain. A layer that can apply the function to its
    /// own output inside the pass that writes it, and its derivative inside its own backward pass, keeps it and returns
    /// true; the network then marks the activation as applied (<see cref="Activation{T}.AppliedByLayerBefore"/>), and it
    /// hands its input and gradient on untouched. That saves the activation's pass over the tensor in each direction and
    /// its output buffer. The base takes none.
    /// </summary>
    internal virtual bool TakeActivation(Activation<T> activation) => false;

    /// <summary>The layer's type as the <see cref="LayerRegistry"/> and model files name it, e.g. "linear".</summary>
    public abstract string Kind { get; }

    /// <summary>
    /// Training mode (true) or inference mode (false, the default), set on this layer and its children.
    /// Only layers that behave differently in training read it (<see cref="Dropout{T}"/>, <see cref="BatchNorm1d{T}"/>).
    /// <see cref="Network{T}"/> sets it while it trains or evaluates and puts it back afterwards.
    /// </summary>
    public bool Training
    {
        get => _training;
        set
        {
            _training = value;
            var children = Children;
            for (int i = 0; i < children.Count; i++) children[i].Value.Training = value;
        }
    }

    /// <summary>The layer's own trainable parameters, without its children's (none for activations).</summary>
    public virtual IReadOnlyList<Parameter<T>> Parameters => [];

    /// <summary>The layer's own non-trainable state that a model file keeps, e.g. batch norm's running estimates.</summary>
    public virtual IReadOnlyList<NamedTensor<T>> Buffers => [];

    /// <summary>The layers inside this one, under the names their state is saved with (e.g. "0", "body").</summary>
    public virtual IReadOnlyList<Named<Layer<T>>> Children => [];

    /// <summary>
    /// What rebuilds this layer besides its input shape and state, in the order the model file writes it,
    /// e.g. a linear layer's <c>in</c>, <c>out</c> and <c>regularized</c>. Values are numbers, booleans,
    /// strings or, for containers, the settings of their children (see <see cref="LayerRegistry.Describe{T}(Layer{T})"/>).
    /// </summary>
    public virtual IEnumerable<KeyValuePair<string, object>> Settings => [];

    /// <summary>
    /// Writes the layer's inference computation into <paramref name="graph"/>, reading the value named
    /// <paramref name="input"/>; returns the name of its output value. Its state goes in under
    /// <paramref name="name"/> (the layer's path in the network, e.g. "3" or "3.body.0").
    /// </summary>
    /// <exception cref="NotSupportedException">The layer has no form in the graph's operator set.</exception>
    public virtual string Export(IGraphBuilder<T> graph, string input, string name) =>
        throw new NotSupportedException($"layer {name} {this} has no ONNX form");

    /// <summary>The fewest rows a training batch may have (2 for batch norm, which estimates a variance); the trainer merges a smaller last batch into the one before.</summary>
    public virtual int MinimumTrainingBatch => 1;

    /// <summary>The generator a layer draws from in training (dropout's masks), whose state checkpoints keep; null for none.</summary>
    internal virtual Rng? Generator => null;

    /// <summary>
    /// Advances <see cref="Generator"/> as a training forward pass over <paramref name="rows"/> rows would, without
    /// computing anything: a data-parallel rank skips the draws of the other ranks' slices, so that its masks are those
    /// one process would draw for its rows of the batch.
    /// </summary>
    internal virtual void SkipTrainingRows(int rows) { }

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
    public Matrix<T> Backward(Matrix<T> outputGradient) => Backward(outputGradient, needInputGradient: true)!;

    /// <summary>
    /// <see cref="Backward(Matrix{T})"/>, but when <paramref name="needInputGradient"/> is false the layer may skip dL/d input and
    /// return null: the first layer's, which nothing reads in training. The parameter gradients are the same.
    /// </summary>
    internal Matrix<T>? Backward(Matrix<T> outputGradient, bool needInputGradient)
    {
        var output = LastOutput ?? throw new InvalidOperationException($"{this}: Backward called before Forward.");
        outputGradient.RequireShape(output.Rows, OutputSize, "Output gradient", this);
        return needInputGradient ? BackwardCore(outputGradient) : BackwardParametersOnly(outputGradient);
    }

    /// <summary>
    /// The parameter gradients of a backward pass on a checked gradient, dL/d input only where the layer cannot skip
    /// it (then returned; otherwise null). The base computes everything (<see cref="BackwardCore"/>), which is
    /// always right; a layer whose input gradient costs a pass of its own overrides it.
    /// </summary>
    internal virtual Matrix<T>? BackwardParametersOnly(Matrix<T> outputGradient) => BackwardCore(outputGradient);

    /// <summary>
    /// Backward and an SGD step in one: returns dL/d input (or null when <paramref name="needInputGradient"/>
    /// is false and the layer can skip it) and updates the parameters with <paramref name="step"/>. The
    /// base runs <see cref="Backward(Matrix{T}, bool)"/> and then one fused update pass per parameter; a layer may fuse more.
    /// Parameter gradients must be zero on entry and are zero on exit.
    /// </summary>
    internal virtual Matrix<T>? BackwardAndStep(Matrix<T> outputGradient, SgdStep<T> step, bool needInputGradient)
    {
        var inputGradient = Backward(outputGradient, needInputGradient);
        var parameters = Parameters;
        for (int i = 0; i < parameters.Count; i++) step.Apply(parameters[i]);   // not foreach: an interface enumerator allocates
        return inputGradient;
    }

    /// <summary>
    /// Applies an SGD update this layer deferred into its next forward pass (see <see cref="SgdStep{T}.MayDefer"/>)
    /// now, in a pass of its own; nothing when none is pending. The network calls it before anything reads the weights.
    /// </summary>
    internal virtual void FinishDeferredStep() { }

    /// <summary>The update this layer has deferred, as a checkpoint saves it (so that a resumed run applies it in the same fused pass), or null.</summary>
    internal virtual DeferredStep<T>? PendingStep => null;

    /// <summary>Restores a deferred update saved from <see cref="PendingStep"/>, onto the weights it was saved with.</summary>
    /// <exception cref="NotSupportedException">The layer never defers an update.</exception>
    internal virtual void SetPendingStep(DeferredStep<T> step) => throw new NotSupportedException($"{this} defers no updates.");

    /// <summary>The output of the last forward pass, or null before the first.</summary>
    protected abstract Matrix<T>? LastOutput { get; }

    /// <summary>Forward pass on an input whose width has been checked.</summary>
    protected abstract Matrix<T> ForwardCore(Matrix<T> input);

    /// <summary>Backward pass on a gradient whose shape has been checked.</summary>
    protected abstract Matrix<T> BackwardCore(Matrix<T> outputGradient);

    /// <inheritdoc/>
    public override string ToString() => $"{Kind}({Describe(InputShape)} -> {Describe(OutputShape)})";

    // Flat shapes print as the bare width, as they always have: "linear(784 -> 800)".
    private static string Describe(Shape shape) => shape.Rank == 1 ? shape[0].ToString(System.Globalization.CultureInfo.InvariantCulture) : shape.ToString();

    private static int Positive(int size, string name)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size, name);
        return size;
    }
}

/// <summary>An SGD update w ← keep·w − rate·gradientᵀ·input that a layer owes its weights (batch 1: input (1, in), gradient (1, out)).</summary>
internal sealed record DeferredStep<T>(Matrix<T> Input, Matrix<T> Gradient, T Rate, T Keep) where T : unmanaged, IFloatingPointIeee754<T>;

/// <summary>A value under the name a model file saves it with.</summary>
public readonly record struct Named<TValue>(string Name, TValue Value);

/// <summary>A layer's non-trainable state tensor: its storage and the shape a model file gives it (e.g. running_mean, (features)).</summary>
public sealed record NamedTensor<T>(string Name, Matrix<T> Value, Shape Shape) where T : unmanaged, IFloatingPointIeee754<T>;
