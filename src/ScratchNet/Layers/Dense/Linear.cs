using System.Numerics;
using System.Numerics.Tensors;
using ScratchNet.Compute;
using ScratchNet.Optimizers;

namespace ScratchNet.Layers;

/// <summary>
/// Fully connected layer, y = x·Wᵀ + b, with W shaped (out, in) and b (1, out) as in PyTorch's
/// <c>nn.Linear</c>; or y = x·Wᵀ without a bias (<c>nn.Linear(…, bias=False)</c>, airbench's classifier).
/// </summary>
public sealed class Linear<T> : Layer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private Matrix<T>? _input;                  // (B, in), cached by Forward: dW needs it

    // A deferred SGD step of W (a first layer at batch 1, which needs no input gradient): the step's
    // input and output gradient are kept, and the next forward pass applies the update in the same
    // sweep over W that computes its output, so each weight is read and written once per step instead
    // of being read by the forward pass and read and written again by the backward pass.
    private readonly Matrix<T> _pendingInput;     // (1, in): x of the deferred step
    private readonly Matrix<T> _pendingGradient;  // (1, out): dy of the deferred step
    private T _pendingRate, _pendingKeep;
    private bool _pending;
    private double _squares = double.NaN;         // Σ W² of the current W when known (else NaN)
    private readonly Matrix<T> _biasValue;        // b, or zeros for a layer without a bias

    /// <summary>
    /// Creates a layer with the given initial weight (out, in) and bias (1, out), which it keeps (no copy); a null
    /// <paramref name="bias"/> makes a layer without one.
    /// </summary>
    /// <exception cref="ShapeMismatchException">The bias is not (1, weight rows).</exception>
    public Linear(Matrix<T> weight, Matrix<T>? bias, bool regularized) : base(weight.Cols, weight.Rows)
    {
        bias?.RequireShape(1, weight.Rows, "Linear bias");
        Weight = new Parameter<T>("weight", weight, new Shape(weight.Rows, weight.Cols), regularized);
        Bias = bias is null ? null : new Parameter<T>("bias", bias, new Shape(weight.Rows), regularized: false);
        Parameters = Bias is null ? [Weight] : [Weight, Bias];
        // The fused batch-1 forward pass adds a bias row in the same sweep: without a bias it adds zeros.
        _biasValue = bias ?? new Matrix<T>(1, weight.Rows);
        _pendingInput = new Matrix<T>(1, InputSize);
        _pendingGradient = new Matrix<T>(1, OutputSize);
    }

    /// <summary>
    /// The report's generated layer: weights wo + w·N(0,1), biases bo + b·N(0,1), drawn from
    /// <paramref name="rng"/> row by row, weights first.
    /// </summary>
    public static Linear<T> Generate(int inputSize, int outputSize, double w, double wo, double b, double bo, bool regularized, Rng rng)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outputSize);
        var weight = new Matrix<T>(outputSize, inputSize);
        foreach (ref T value in weight.Span) value = T.CreateChecked(wo + w * rng.NextNormal());
        var bias = new Matrix<T>(1, outputSize);
        foreach (ref T value in bias.Span) value = T.CreateChecked(bo + b * rng.NextNormal());
        return new Linear<T>(weight, bias, regularized);
    }

    /// <summary>
    /// The deferred step W is still owed (see the fields above), or null: checkpoints save it as it is, so that a
    /// resumed run applies it in the same fused pass as an uninterrupted one (finishing it in a pass of its own
    /// rounds differently).
    /// </summary>
    internal override DeferredStep<T>? PendingStep =>
        _pending ? new(_pendingInput, _pendingGradient, _pendingRate, _pendingKeep) : null;

    /// <inheritdoc/>
    internal override void SetPendingStep(DeferredStep<T> step)
    {
        step.Input.RequireShape(1, InputSize, "Deferred step input", this);
        step.Gradient.RequireShape(1, OutputSize, "Deferred step gradient", this);
        step.Input.Span.CopyTo(_pendingInput.Span);
        step.Gradient.Span.CopyTo(_pendingGradient.Span);
        (_pendingRate, _pendingKeep, _pending) = (step.Rate, step.Keep, true);
        _squares = double.NaN;
    }

    /// <summary>W, (out, in).</summary>
    public Parameter<T> Weight { get; }

    /// <summary>b, (1, out), or null for a layer without a bias. Never regularised.</summary>
    public Parameter<T>? Bias { get; }

    /// <inheritdoc/>
    public override IReadOnlyList<Parameter<T>> Parameters { get; }

    /// <inheritdoc/>
    internal override bool BackwardReturnsInputGradient => true;

    /// <inheritdoc/>
    internal override bool ForwardReturnsOutput => true;

    /// <inheritdoc/>
    internal override bool BackwardReadsOutput => false;

    /// <inheritdoc/>
    public override string Kind => "linear";

    /// <inheritdoc/>
    /// <remarks>
    /// <c>bias</c> is written only when false: a layer with a bias describes itself as every earlier version did, so that
    /// their checkpoints, which must name the network they were written for, still resume.
    /// </remarks>
    public override IEnumerable<KeyValuePair<string, object>> Settings =>
        Bias is null ? [.. CommonSettings, new("bias", false)] : CommonSettings;

    private KeyValuePair<string, object>[] CommonSettings => [new("in", InputSize), new("out", OutputSize), new("regularized", Weight.Regularized)];

    /// <summary>
    /// Rebuilds the layer from its settings, with zero weights for the state to fill: the registry's reader. Files
    /// written before layers could go without a bias have no <c>bias</c> setting: they have one.
    /// </summary>
    public static Linear<T> Read(LayerSettings settings)
    {
        int inputs = settings.PositiveInt("in"), outputs = settings.PositiveInt("out");
        bool regularized = settings.Bool("regularized"), bias = settings.Bool("bias", fallback: true);
        settings.RequireInputSize(inputs);
        settings.Reserve((long)outputs * inputs + (bias ? outputs : 0));
        return new Linear<T>(new Matrix<T>(outputs, inputs), bias ? new Matrix<T>(1, outputs) : null, regularized);
    }

    /// <inheritdoc/>
    /// <remarks>ONNX's Gemm takes C as an optional third input (opset 11 on): a layer without a bias leaves it out.</remarks>
    public override string Export(IGraphBuilder<T> graph, string input, string name)
    {
        string weight = graph.AddInitializer($"{name}.weight", Weight.Value.Span, Weight.Shape);
        string[] inputs = Bias is null ? [input, weight] : [input, weight, graph.AddInitializer($"{name}.bias", Bias.Value.Span, Bias.Shape)];
        return graph.AddNode("Gemm", name, inputs, [new("transB", 1L)]);
    }

    /// <inheritdoc/>
    protected override Matrix<T>? LastOutput => _input is null ? null : Output;

    /// <inheritdoc/>
    protected override Matrix<T> ForwardCore(Matrix<T> input)
    {
        _input = input;
        Output.SetRows(input.Rows);
        if (_pending && input.Rows == 1)
        {
            _squares = SgdKernels.LinearForwardFinishingStep(Weight.Value, _biasValue, _pendingInput, _pendingGradient, _pendingRate, _pendingKeep, input, Output);
            _pending = false;
            return Output;
        }
        FinishDeferredStep();
        _squares = double.NaN;
        // The bias enters as the GEMM's C with beta 1: its epilogue adds it, no pass of its own.
        if (Bias is not null)
        {
            var bias = Bias.Value.Span;
            for (int r = 0; r < Output.Rows; r++) bias.CopyTo(Output.Row(r));
        }
        Gemm.Multiply(input, false, Weight.Value, true, Output, T.One, Bias is null ? T.Zero : T.One);   // (B, in)·(in, out) (+ b)
        return Output;
    }

    /// <summary>Batches up to this size take the fused backward-and-step kernel; larger ones are GEMM-bound.</summary>
    internal const int FusedStepMaxBatch = 4;

    /// <inheritdoc/>
    /// <remarks>
    /// For small batches (the report's batch 1) the work is bound by memory traffic over W, so one pass
    /// computes dX from the old weights and steps W and b, without materialising dW.
    /// </remarks>
    internal override Matrix<T>? BackwardAndStep(Matrix<T> outputGradient, SgdStep<T> step, bool needInputGradient)
    {
        var input = _input ?? throw new InvalidOperationException($"{this}: Backward called before Forward.");
        outputGradient.RequireShape(input.Rows, OutputSize, "Output gradient", this);
        FinishDeferredStep();
        // A frozen weight or bias takes no step: the plain backward, then the step of what is not frozen.
        if (Weight.Frozen || Bias is { Frozen: true }) return base.BackwardAndStep(outputGradient, step, needInputGradient);
        if (input.Rows > FusedStepMaxBatch) return BackwardAndStepByGemm(input, outputGradient, step, needInputGradient);
        if (!needInputGradient && input.Rows == 1 && step.MayDefer)
        {
            // Defer W's update to the next forward pass; the bias is too small to bother.
            if (Bias is not null) SgdKernels.StepBias(Bias.Value, outputGradient, step.LearningRate);
            if (double.IsNaN(_squares)) _squares = double.CreateChecked(TensorPrimitives.SumOfSquares<T>(Weight.Value.Span));
            step.AddSquares(Weight, _squares);
            _squares = double.NaN;
            input.Span.CopyTo(_pendingInput.Span);
            outputGradient.Span.CopyTo(_pendingGradient.Span);
            (_pendingRate, _pendingKeep, _pending) = (step.LearningRate, step.Keep(Weight), true);
            return null;
        }
        Matrix<T>? inputGradient = null;
        if (needInputGradient)
        {
            InputGradient.SetRows(input.Rows);
            inputGradient = InputGradient;
        }
        double squares = SgdKernels.LinearBackward(Weight.Value, Bias?.Value, input, outputGradient, inputGradient, step.LearningRate, step.Keep(Weight));
        step.AddSquares(Weight, squares);
        _squares = double.NaN;
        return inputGradient;
    }

    // Larger batches: dX = dY·W from the old weights, then the whole step as one GEMM into W,
    // W ← keep·W − lr·dYᵀ·X (beta = keep, alpha = −lr), so dW is never stored, zeroed or re-read.
    private Matrix<T>? BackwardAndStepByGemm(Matrix<T> input, Matrix<T> outputGradient, SgdStep<T> step, bool needInputGradient)
    {
        Matrix<T>? inputGradient = null;
        if (needInputGradient)
        {
            InputGradient.SetRows(input.Rows);
            Gemm.Multiply(outputGradient, false, Weight.Value, false, InputGradient, T.One, T.Zero);   // (B, out)·(out, in)
            inputGradient = InputGradient;
        }
        if (Weight.Regularized) step.AddSquares(Weight, double.CreateChecked(TensorPrimitives.SumOfSquares<T>(Weight.Value.Span)));
        Gemm.Multiply(outputGradient, true, input, false, Weight.Value, -step.LearningRate, step.Keep(Weight));   // (out, B)·(B, in)
        if (Bias is not null) SgdKernels.StepBias(Bias.Value, outputGradient, step.LearningRate);
        _squares = double.NaN;
        return inputGradient;
    }

    /// <inheritdoc/>
    protected override Matrix<T> BackwardCore(Matrix<T> outputGradient)
    {
        AddParameterGradients(outputGradient);
        // dX = dY·W : (B, out)·(out, in)
        InputGradient.SetRows(outputGradient.Rows);
        Gemm.Multiply(outputGradient, false, Weight.Value, false, InputGradient, T.One, T.Zero);
        return InputGradient;
    }

    /// <inheritdoc/>
    /// <remarks>dW and db without dX, whose GEMM is as large as dW's (the first layer of an MLP on an unfused optimiser).</remarks>
    internal override Matrix<T>? BackwardParametersOnly(Matrix<T> outputGradient)
    {
        AddParameterGradients(outputGradient);
        return null;
    }

    private void AddParameterGradients(Matrix<T> outputGradient)
    {
        // dW += dYᵀ·X : (out, B)·(B, in)
        Gemm.Multiply(outputGradient, true, _input!, false, Weight.Gradient, T.One, T.One);
        if (Bias is null) return;
        // db += column sums of dY
        var biasGradient = Bias.Gradient.Span;
        for (int r = 0; r < outputGradient.Rows; r++)
            TensorPrimitives.Add(biasGradient, outputGradient.Row(r), biasGradient);
    }

    /// <inheritdoc/>
    /// <remarks>The same update, w ← keep·w − lr·dy·x, as the fused forward pass computes, in a pass of its own.</remarks>
    internal override void FinishDeferredStep()
    {
        if (!_pending) return;
        _pending = false;
        SgdKernels.LinearBackward(Weight.Value, null, _pendingInput, _pendingGradient, null, _pendingRate, _pendingKeep);
    }
}
