using System.Numerics;
using ScratchNet.Layers;

namespace ScratchNet.Optimizers;

/// <summary>
/// An optimiser that keeps per-parameter state (momentum buffers, moment estimates) between steps.
/// State is keyed by the parameter's index in the list given to <see cref="Step"/>, allocated once on
/// the first step (or by <see cref="Initialize"/>) and then reused: a warm step allocates nothing.
/// </summary>
/// <remarks>
/// For checkpoints: <see cref="State"/> holds <see cref="StatePerParameter"/> tensors per parameter, in
/// parameter order (parameter i's k-th tensor is <c>State[i · StatePerParameter + k]</c>), each of its
/// parameter's shape; together with <see cref="StepCount"/> and <see cref="LearningRate"/> it is all an
/// optimiser remembers. To restore, call <see cref="Initialize"/> (or <see cref="LoadState"/>) and write.
/// </remarks>
public abstract class StatefulOptimizer<T> : IOptimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly List<Matrix<T>> _state = [];
    private double _learningRate;
    private IReadOnlyList<Parameter<T>> _stepping = [];   // the parameters of the step under way

    /// <summary>Creates an optimiser with <paramref name="statePerParameter"/> state tensors per parameter.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The learning rate is not finite and &gt; 0.</exception>
    protected StatefulOptimizer(double learningRate, int statePerParameter)
    {
        LearningRate = learningRate;
        StatePerParameter = statePerParameter;
    }

    /// <summary>The step size; a schedule may change it between steps.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not finite and &gt; 0.</exception>
    public double LearningRate
    {
        get => _learningRate;
        set => _learningRate = value > 0 && double.IsFinite(value)
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "The learning rate must be finite and > 0.");
    }

    /// <summary>Steps taken so far (PyTorch's <c>step</c>); Adam's bias correction reads it.</summary>
    public long StepCount { get; set; }

    /// <summary>How many state tensors each parameter has (e.g. 2 for Adam: first and second moments).</summary>
    public int StatePerParameter { get; }

    /// <summary>Every state tensor, parameter by parameter; empty before the first step or <see cref="Initialize"/>.</summary>
    public IReadOnlyList<Matrix<T>> State => _state;

    /// <summary>
    /// Allocates zero state for <paramref name="parameters"/> unless it exists already; then checks that
    /// the existing state matches the parameters' count and shapes.
    /// </summary>
    /// <exception cref="ShapeMismatchException">The state was made for other parameters.</exception>
    public void Initialize(IReadOnlyList<Parameter<T>> parameters)
    {
        if (_state.Count == 0)
        {
            for (int i = 0; i < parameters.Count; i++)
                for (int k = 0; k < StatePerParameter; k++)
                    _state.Add(new Matrix<T>(parameters[i].Gradient.Rows, parameters[i].Gradient.Cols));
        }
        if (_state.Count != parameters.Count * StatePerParameter)
            throw new ShapeMismatchException(
                $"{GetType().Name}: its state holds {_state.Count / Math.Max(1, StatePerParameter)} parameters, but it is stepping {parameters.Count}.");
        for (int i = 0; i < parameters.Count; i++)
        {
            var gradient = parameters[i].Gradient;
            var state = _state[i * StatePerParameter];
            if (state.Rows != gradient.Rows || state.Cols != gradient.Cols)
                throw new ShapeMismatchException(
                    $"{GetType().Name}: state of parameter #{i} has shape {state.Shape}, the parameter {gradient.Shape}.");
        }
    }

    /// <summary>Copies a checkpoint into this optimiser: <paramref name="state"/> laid out as <see cref="State"/>, and the step count.</summary>
    /// <exception cref="ShapeMismatchException">The checkpoint does not fit <paramref name="parameters"/>.</exception>
    public void LoadState(IReadOnlyList<Parameter<T>> parameters, IReadOnlyList<Matrix<T>> state, long stepCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(stepCount);
        Initialize(parameters);
        if (state.Count != _state.Count)
            throw new ShapeMismatchException($"{GetType().Name}: the checkpoint has {state.Count} state tensors, this optimiser {_state.Count}.");
        for (int j = 0; j < state.Count; j++)
        {
            if (state[j].Shape != _state[j].Shape)
                throw new ShapeMismatchException($"{GetType().Name}: checkpoint state #{j} has shape {state[j].Shape}, expected {_state[j].Shape}.");
            state[j].Span.CopyTo(_state[j].Span);
        }
        StepCount = stepCount;
    }

    /// <inheritdoc/>
    public void Step(IReadOnlyList<Parameter<T>> parameters)
    {
        Initialize(parameters);
        StepCount++;
        _stepping = parameters;
        BeginStep();
        for (int i = 0; i < parameters.Count; i++)   // not foreach: an interface enumerator allocates
            if (!parameters[i].Frozen) Update(parameters[i].Value.Span, parameters[i].Gradient.Span, i);
        _stepping = [];
    }

    /// <summary>The rate parameter <paramref name="parameterIndex"/> of the step under way takes: <see cref="LearningRate"/> × its <see cref="Parameter{T}.LearningRateScale"/>.</summary>
    protected double RateOf(int parameterIndex) => LearningRate * ScaleOf(parameterIndex);

    /// <summary>The <see cref="Parameter{T}.LearningRateScale"/> of parameter <paramref name="parameterIndex"/> of the step under way.</summary>
    protected double ScaleOf(int parameterIndex) => _stepping[parameterIndex].LearningRateScale;

    /// <summary>The weight decay of parameter <paramref name="parameterIndex"/>: its own <see cref="Parameter{T}.WeightDecay"/>, else <paramref name="optimizerDecay"/>.</summary>
    protected double WeightDecayOf(int parameterIndex, double optimizerDecay) => _stepping[parameterIndex].WeightDecay ?? optimizerDecay;

    /// <summary>Called once per step after <see cref="StepCount"/> has advanced, before the parameters are updated.</summary>
    protected virtual void BeginStep() { }

    /// <summary>Updates one parameter's <paramref name="value"/> from its <paramref name="gradient"/> and its state.</summary>
    protected abstract void Update(Span<T> value, ReadOnlySpan<T> gradient, int parameterIndex);

    /// <summary>The <paramref name="k"/>-th state tensor of parameter <paramref name="parameterIndex"/>.</summary>
    protected Span<T> StateOf(int parameterIndex, int k) => _state[parameterIndex * StatePerParameter + k].Span;
}
