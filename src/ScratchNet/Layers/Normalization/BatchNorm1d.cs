using System.Numerics;
using System.Numerics.Tensors;

namespace ScratchNet.Layers;

/// <summary>
/// Batch normalisation over the batch, per feature, as PyTorch's <c>nn.BatchNorm1d</c> on (batch, features):
/// y = γ·(x − μ)/√(σ² + ε) + β. In training μ and σ² are the batch's mean and biased variance, and the
/// running estimates move towards the batch's mean and unbiased variance by <see cref="Momentum"/>;
/// in inference the running estimates are used.
/// </summary>
/// <remarks>
/// Training backward, with x̂ = (x − μ)·s, s = 1/√(σ² + ε) and B rows:
/// dβ = Σ_b dy, dγ = Σ_b dy·x̂, dx = γ·s/B · (B·dy − Σ_b dy − x̂·Σ_b dy·x̂).
/// In inference μ and s are constants: dx = γ·s·dy.
/// </remarks>
public sealed class BatchNorm1d<T> : Layer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T _momentum, _epsilon;
    private readonly Matrix<T> _mean;           // (1, size): batch mean, then scratch Σ dy in backward
    private readonly Matrix<T> _variance;       // (1, size): batch biased variance, then scratch Σ dy·x̂
    private readonly Matrix<T> _invStd;         // (1, size): s of the last forward pass
    private readonly Matrix<T> _normalized;     // (B, size): x̂ of the last forward pass
    private bool _batchStatistics;              // the last Forward normalised with the batch's own statistics
    private bool _ran;

    /// <summary>Creates a layer of width <paramref name="size"/> with γ = 1, β = 0, running mean 0 and running variance 1.</summary>
    /// <param name="size">Features in and out.</param>
    /// <param name="momentum">Weight of the new batch in the running estimates: r ← (1 − momentum)·r + momentum·batch; in [0, 1].</param>
    /// <param name="epsilon">Added to the variance before the square root; positive.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> or <paramref name="epsilon"/> is not positive, or <paramref name="momentum"/> is outside [0, 1].</exception>
    public BatchNorm1d(int size, double momentum = 0.1, double epsilon = 1e-5) : base(size, size)
    {
        if (!(momentum >= 0 && momentum <= 1)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "The momentum must be in [0, 1].");
        if (!(epsilon > 0 && double.IsFinite(epsilon))) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "Epsilon must be positive.");
        Momentum = momentum;
        Epsilon = epsilon;
        _momentum = T.CreateChecked(momentum);
        _epsilon = T.CreateChecked(epsilon);
        var gamma = new Matrix<T>(1, size);
        gamma.Span.Fill(T.One);
        Weight = new Parameter<T>("weight", gamma, new Shape(size), regularized: false);
        Bias = new Parameter<T>("bias", new Matrix<T>(1, size), new Shape(size), regularized: false);
        Parameters = [Weight, Bias];
        RunningMean = new Matrix<T>(1, size);
        RunningVariance = new Matrix<T>(1, size);
        RunningVariance.Span.Fill(T.One);
        Buffers = [new("running_mean", RunningMean, new Shape(size)), new("running_var", RunningVariance, new Shape(size))];
        _mean = new Matrix<T>(1, size);
        _variance = new Matrix<T>(1, size);
        _invStd = new Matrix<T>(1, size);
        _normalized = new Matrix<T>(0, size);
    }

    /// <summary>γ, (1, size). Never regularised.</summary>
    public Parameter<T> Weight { get; }

    /// <summary>β, (1, size). Never regularised.</summary>
    public Parameter<T> Bias { get; }

    /// <summary>The running mean, (1, size), used in inference; updated by each training forward pass. Writable in place.</summary>
    public Matrix<T> RunningMean { get; }

    /// <summary>The running (unbiased) variance, (1, size), used in inference; updated by each training forward pass. Writable in place.</summary>
    public Matrix<T> RunningVariance { get; }

    /// <summary>Weight of each new batch in the running estimates.</summary>
    public double Momentum { get; }

    /// <summary>ε, added to the variance before the square root.</summary>
    public double Epsilon { get; }

    /// <inheritdoc/>
    public override IReadOnlyList<Parameter<T>> Parameters { get; }

    /// <inheritdoc/>
    public override IReadOnlyList<NamedTensor<T>> Buffers { get; }

    /// <inheritdoc/>
    internal override bool BackwardReturnsInputGradient => true;

    /// <inheritdoc/>
    internal override bool ForwardReturnsOutput => true;

    /// <inheritdoc/>
    public override string Kind => "batchnorm1d";

    /// <inheritdoc/>
    public override int MinimumTrainingBatch => 2;

    /// <inheritdoc/>
    public override IEnumerable<KeyValuePair<string, object>> Settings =>
        [new("features", InputSize), new("momentum", Momentum), new("eps", Epsilon)];

    /// <summary>Rebuilds the layer from its settings (γ = 1, β = 0 and fresh estimates for the state to fill): the registry's reader.</summary>
    public static BatchNorm1d<T> Read(LayerSettings settings)
    {
        int features = settings.PositiveInt("features");
        double momentum = settings.Number("momentum", 0, 1);
        double epsilon = settings.Number("eps", 0, double.MaxValue, minExclusive: true);
        settings.RequireInputSize(features);
        settings.Reserve(4L * features);
        return new BatchNorm1d<T>(features, momentum, epsilon);
    }

    /// <inheritdoc/>
    /// <remarks>ONNX's BatchNormalization in inference form: the running estimates, normalising over axis 1.</remarks>
    public override string Export(IGraphBuilder<T> graph, string input, string name) =>
        graph.AddNode("BatchNormalization", name,
            [input,
             graph.AddInitializer($"{name}.weight", Weight.Value.Span, Weight.Shape),
             graph.AddInitializer($"{name}.bias", Bias.Value.Span, Bias.Shape),
             graph.AddInitializer($"{name}.running_mean", RunningMean.Span, Buffers[0].Shape),
             graph.AddInitializer($"{name}.running_var", RunningVariance.Span, Buffers[1].Shape)],
            [new("epsilon", (float)Epsilon), new("momentum", (float)(1 - Momentum))]);

    /// <inheritdoc/>
    protected override Matrix<T>? LastOutput => _ran ? Output : null;

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">Training mode with a batch of one row (no variance to estimate; PyTorch refuses it too).</exception>
    protected override Matrix<T> ForwardCore(Matrix<T> input)
    {
        int batch = input.Rows;
        _normalized.SetRows(batch);
        Output.SetRows(batch);
        _batchStatistics = Training;
        if (Training)
        {
            if (batch < 2) throw new ArgumentException($"{this}: training needs more than one row per batch to estimate a variance.", nameof(input));
            T count = T.CreateChecked(batch);
            var mean = _mean.Span;
            var variance = _variance.Span;
            mean.Clear();
            variance.Clear();
            for (int r = 0; r < batch; r++) TensorPrimitives.Add(mean, input.Row(r), mean);
            TensorPrimitives.Divide(mean, count, mean);
            for (int r = 0; r < batch; r++)
            {
                var centred = _normalized.Row(r);
                TensorPrimitives.Subtract(input.Row(r), mean, centred);
                TensorPrimitives.MultiplyAdd(centred, centred, variance, variance);
            }
            TensorPrimitives.Divide(variance, count, variance);   // biased: normalisation
            // running ← (1 − m)·running + m·batch, with the unbiased variance B/(B − 1)·σ²
            T keep = T.One - _momentum;
            T unbias = _momentum * count / (count - T.One);
            var runningMean = RunningMean.Span;
            var runningVariance = RunningVariance.Span;
            for (int j = 0; j < mean.Length; j++)
            {
                runningMean[j] = keep * runningMean[j] + _momentum * mean[j];
                runningVariance[j] = keep * runningVariance[j] + unbias * variance[j];
            }
            InverseStd(variance);
        }
        else
        {
            InverseStd(RunningVariance.Span);
            for (int r = 0; r < batch; r++) TensorPrimitives.Subtract(input.Row(r), RunningMean.Span, _normalized.Row(r));
        }
        var s = _invStd.Span;
        var gamma = Weight.Value.Span;
        var beta = Bias.Value.Span;
        for (int r = 0; r < batch; r++)
        {
            var xHat = _normalized.Row(r);
            TensorPrimitives.Multiply(xHat, s, xHat);
            TensorPrimitives.MultiplyAdd(xHat, gamma, beta, Output.Row(r));
        }
        _ran = true;
        return Output;
    }

    /// <inheritdoc/>
    protected override Matrix<T> BackwardCore(Matrix<T> outputGradient)
    {
        int batch = outputGradient.Rows;
        var sumDy = _mean.Span;             // Σ_b dy (the batch mean is no longer needed)
        var sumDyXHat = _variance.Span;     // Σ_b dy·x̂
        sumDy.Clear();
        sumDyXHat.Clear();
        for (int r = 0; r < batch; r++)
        {
            TensorPrimitives.Add(sumDy, outputGradient.Row(r), sumDy);
            TensorPrimitives.MultiplyAdd(outputGradient.Row(r), _normalized.Row(r), sumDyXHat, sumDyXHat);
        }
        TensorPrimitives.Add(Bias.Gradient.Span, sumDy, Bias.Gradient.Span);
        TensorPrimitives.Add(Weight.Gradient.Span, sumDyXHat, Weight.Gradient.Span);

        InputGradient.SetRows(batch);
        var gamma = Weight.Value.Span;
        var s = _invStd.Span;
        if (!_batchStatistics)
        {
            for (int r = 0; r < batch; r++)
            {
                var dx = InputGradient.Row(r);
                TensorPrimitives.Multiply(outputGradient.Row(r), gamma, dx);
                TensorPrimitives.Multiply(dx, s, dx);
            }
            return InputGradient;
        }
        // dx = γ·s/B · (B·dy − Σ dy − x̂·Σ dy·x̂)
        T count = T.CreateChecked(batch);
        for (int r = 0; r < batch; r++)
        {
            var dy = outputGradient.Row(r);
            var xHat = _normalized.Row(r);
            var dx = InputGradient.Row(r);
            for (int j = 0; j < dx.Length; j++)
                dx[j] = gamma[j] * s[j] / count * (count * dy[j] - sumDy[j] - xHat[j] * sumDyXHat[j]);
        }
        return InputGradient;
    }

    // s = 1/√(variance + ε) into _invStd.
    private void InverseStd(ReadOnlySpan<T> variance)
    {
        var s = _invStd.Span;
        TensorPrimitives.Add(variance, _epsilon, s);
        TensorPrimitives.Sqrt(s, s);
        TensorPrimitives.Reciprocal(s, s);
    }
}
