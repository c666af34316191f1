using System.Numerics;
using System.Numerics.Tensors;

namespace ScratchNet.Layers;

/// <summary>
/// Batch normalisation of (C, H, W) samples per channel, as PyTorch's <c>nn.BatchNorm2d</c>:
/// y = γ·(x − μ)/√(σ² + ε) + β, μ and σ² over the batch and the H·W positions of each channel. In training
/// they are the batch's mean and biased variance, and the running estimates move towards the mean and the
/// unbiased variance (M/(M − 1)·σ², M = batch·H·W) by <see cref="Momentum"/>; in inference the running
/// estimates are used. Without <see cref="Affine"/> there is no γ or β; with <see cref="FrozenWeight"/> γ is
/// kept (and saved as <c>weight</c>) but not trained, as PyTorch's <c>weight.requires_grad = False</c>.
/// </summary>
/// <remarks>
/// Training backward, with x̂ = (x − μ)·s, s = 1/√(σ² + ε), sums over the M values of a channel:
/// dβ = Σ dy, dγ = Σ dy·x̂, dx = γ·s/M · (M·dy − Σ dy − x̂·Σ dy·x̂). In inference: dx = γ·s·dy.
/// The backward recomputes x̂ from the input (kept by reference; layers never write their inputs) and the forward's μ and s,
/// as PyTorch does, instead of keeping an x̂ tensor the size of the input from forward to backward.
/// </remarks>
public sealed class BatchNorm2d<T> : Layer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T _momentum, _epsilon;
    private readonly int _channels, _plane;
    private readonly Matrix<T> _gamma, _beta;   // (1, C): the parameters' values, or ones and zeros without affine
    private readonly Matrix<T> _mean;           // (1, C): μ of the last forward pass (the batch's, or the running estimate)
    private readonly Matrix<T> _invStd;         // (1, C): s of the last forward pass
    private readonly ChannelJob _job = new();
    private Matrix<T>? _input;                  // (B, C·H·W): x of the last forward pass (the layer before owns it)
    private bool _batchStatistics;
    private bool _ran;

    /// <summary>Creates a layer over samples of <paramref name="inputShape"/>, (C, H, W), with γ = 1, β = 0, running mean 0 and variance 1.</summary>
    /// <param name="inputShape">(C, H, W), kept by the output.</param>
    /// <param name="momentum">Weight of the new batch in the running estimates; in [0, 1].</param>
    /// <param name="epsilon">Added to the variance before the square root; positive.</param>
    /// <param name="affine">Whether the layer has γ and β (PyTorch's <c>affine</c>).</param>
    /// <param name="frozenWeight">Keeps γ out of training (it stays as set); needs <paramref name="affine"/>.</param>
    /// <exception cref="ArgumentException">The input is not (C, H, W), a setting is out of range, or a frozen weight without affine.</exception>
    public BatchNorm2d(Shape inputShape, double momentum = 0.1, double epsilon = 1e-5, bool affine = true, bool frozenWeight = false) : base(inputShape, inputShape)
    {
        (_channels, int height, int width) = ImageShape.Of(inputShape, "batchnorm2d");
        _plane = height * width;
        if (!(momentum >= 0 && momentum <= 1)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "The momentum must be in [0, 1].");
        if (!(epsilon > 0 && double.IsFinite(epsilon))) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "Epsilon must be positive.");
        if (frozenWeight && !affine) throw new ArgumentException("A frozen weight needs an affine layer: without affine there is no weight.", nameof(frozenWeight));
        (Momentum, Epsilon, Affine, FrozenWeight) = (momentum, epsilon, affine, frozenWeight);
        _momentum = T.CreateChecked(momentum);
        _epsilon = T.CreateChecked(epsilon);
        var shape = new Shape(_channels);
        _gamma = new Matrix<T>(1, _channels);
        _gamma.Span.Fill(T.One);
        _beta = new Matrix<T>(1, _channels);
        RunningMean = new Matrix<T>(1, _channels);
        RunningVariance = new Matrix<T>(1, _channels);
        RunningVariance.Span.Fill(T.One);
        var buffers = new List<NamedTensor<T>>();
        if (affine)
        {
            Weight = new Parameter<T>("weight", _gamma, shape, regularized: false);
            Bias = new Parameter<T>("bias", _beta, shape, regularized: false);
            Parameters = frozenWeight ? [Bias] : [Weight, Bias];
            if (frozenWeight) buffers.Add(new("weight", _gamma, shape));
        }
        else
        {
            Parameters = [];
        }
        buffers.Add(new("running_mean", RunningMean, shape));
        buffers.Add(new("running_var", RunningVariance, shape));
        Buffers = buffers;
        _mean = new Matrix<T>(1, _channels);
        _invStd = new Matrix<T>(1, _channels);
    }

    /// <summary>γ, (C), or null without <see cref="Affine"/>. Never regularised; with <see cref="FrozenWeight"/> not among the parameters (its value is still saved and loaded).</summary>
    public Parameter<T>? Weight { get; }

    /// <summary>β, (C), or null without <see cref="Affine"/>. Never regularised.</summary>
    public Parameter<T>? Bias { get; }

    /// <summary>The running mean, (1, C), used in inference. Writable in place.</summary>
    public Matrix<T> RunningMean { get; }

    /// <summary>The running (unbiased) variance, (1, C), used in inference. Writable in place.</summary>
    public Matrix<T> RunningVariance { get; }

    /// <summary>Weight of each new batch in the running estimates.</summary>
    public double Momentum { get; }

    /// <summary>ε, added to the variance before the square root.</summary>
    public double Epsilon { get; }

    /// <summary>Whether the layer has γ and β.</summary>
    public bool Affine { get; }

    /// <summary>Whether γ is kept out of training.</summary>
    public bool FrozenWeight { get; }

    /// <inheritdoc/>
    public override IReadOnlyList<Parameter<T>> Parameters { get; }

    /// <inheritdoc/>
    public override IReadOnlyList<NamedTensor<T>> Buffers { get; }

    /// <inheritdoc/>
    internal override bool BackwardReturnsInputGradient => true;

    /// <inheritdoc/>
    internal override bool ForwardReturnsOutput => true;

    /// <inheritdoc/>
    internal override bool BackwardReadsOutput => false;

    /// <inheritdoc/>
    public override string Kind => "batchnorm2d";

    /// <inheritdoc/>
    /// <remarks>Training needs more than one value per channel: two samples when a channel has one position.</remarks>
    public override int MinimumTrainingBatch => _plane > 1 ? 1 : 2;

    /// <inheritdoc/>
    public override IEnumerable<KeyValuePair<string, object>> Settings =>
        [new("features", _channels), new("momentum", Momentum), new("eps", Epsilon), new("affine", Affine), new("frozen_weight", FrozenWeight)];

    /// <summary>Rebuilds the layer from its settings (γ = 1, β = 0 and fresh estimates for the state to fill): the registry's reader.</summary>
    public static BatchNorm2d<T> Read(LayerSettings settings)
    {
        if (settings.Input.Rank != 3) throw settings.Fault($"reads (channels, height, width) samples but follows shape {settings.Input}");
        int features = settings.PositiveInt("features");
        if (features != settings.Input[0]) throw settings.Fault($"normalises {features} channels but follows shape {settings.Input}");
        double momentum = settings.Number("momentum", 0, 1);
        double epsilon = settings.Number("eps", 0, double.MaxValue, minExclusive: true);
        bool affine = settings.Bool("affine"), frozen = settings.Bool("frozen_weight");
        if (frozen && !affine) throw settings.Fault("has a frozen weight but no affine weight");
        settings.Reserve(4L * features);
        return new BatchNorm2d<T>(settings.Input, momentum, epsilon, affine, frozen);
    }

    /// <inheritdoc/>
    /// <remarks>ONNX's BatchNormalization in inference form over axis 1 of (N, C, H, W); without affine, γ = 1 and β = 0 as constants.</remarks>
    public override string Export(IGraphBuilder<T> graph, string input, string name)
    {
        var shape = new Shape(_channels);
        return graph.AddNode("BatchNormalization", name,
            [input,
             graph.AddInitializer($"{name}.weight", _gamma.Span, shape),
             graph.AddInitializer($"{name}.bias", _beta.Span, shape),
             graph.AddInitializer($"{name}.running_mean", RunningMean.Span, shape),
             graph.AddInitializer($"{name}.running_var", RunningVariance.Span, shape)],
            [new("epsilon", (float)Epsilon), new("momentum", (float)(1 - Momentum))]);
    }

    /// <inheritdoc/>
    protected override Matrix<T>? LastOutput => _ran ? Output : null;

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">Training mode with one value per channel (no variance to estimate; PyTorch refuses it too).</exception>
    protected override Matrix<T> ForwardCore(Matrix<T> input)
    {
        int batch = input.Rows;
        if (Training && (long)batch * _plane < 2)
            throw new ArgumentException($"{this}: training needs more than one value per channel to estimate a variance.", nameof(input));
        _input = input;
        Output.SetRows(batch);
        _batchStatistics = Training;
        _job.Run(this, batch, forward: true, gradient: null);
        _ran = true;
        return Output;
    }

    // Channels [first, end): statistics (or the running ones), running estimates, then y = γ·s·(x − μ) + β. Each channel
    // reads and writes only its own slices, and sums over the batch in sample order: any split gives the same numbers.
    private void ForwardChannels(int first, int end)
    {
        var input = _input!;
        int batch = input.Rows;
        var mean = _mean.Span;
        var s = _invStd.Span;
        var gamma = _gamma.Span;
        var beta = _beta.Span;
        for (int c = first; c < end; c++)
        {
            int at = c * _plane;
            if (_batchStatistics)
            {
                T count = T.CreateChecked((long)batch * _plane), sum = T.Zero, squares = T.Zero;
                for (int n = 0; n < batch; n++) sum += TensorPrimitives.Sum<T>(input.Row(n).Slice(at, _plane));
                T mu = sum / count;
                for (int n = 0; n < batch; n++)
                {
                    var centred = Output.Row(n).Slice(at, _plane);   // x − μ, scaled into y below
                    TensorPrimitives.Subtract(input.Row(n).Slice(at, _plane), mu, centred);
                    squares += TensorPrimitives.SumOfSquares<T>(centred);
                }
                T variance = squares / count;   // biased: normalisation
                T keep = T.One - _momentum, unbias = _momentum * count / (count - T.One);
                RunningMean.Span[c] = keep * RunningMean.Span[c] + _momentum * mu;
                RunningVariance.Span[c] = keep * RunningVariance.Span[c] + unbias * variance;
                mean[c] = mu;
                s[c] = T.One / T.Sqrt(variance + _epsilon);
            }
            else
            {
                mean[c] = RunningMean.Span[c];
                s[c] = T.One / T.Sqrt(RunningVariance.Span[c] + _epsilon);
                for (int n = 0; n < batch; n++) TensorPrimitives.Subtract(input.Row(n).Slice(at, _plane), mean[c], Output.Row(n).Slice(at, _plane));
            }
            T scale = s[c] * gamma[c];   // γ·s·(x − μ): one rounding fewer than x̂ first, γ· after
            for (int n = 0; n < batch; n++)
            {
                var yc = Output.Row(n).Slice(at, _plane);
                TensorPrimitives.Multiply(yc, scale, yc);
                TensorPrimitives.Add(yc, beta[c], yc);
            }
        }
    }

    /// <inheritdoc/>
    protected override Matrix<T> BackwardCore(Matrix<T> outputGradient)
    {
        InputGradient.SetRows(outputGradient.Rows);
        _job.Run(this, outputGradient.Rows, forward: false, outputGradient);
        return InputGradient;
    }

    // Channels [first, end): Σ dy and Σ dy·x̂ (x̂ recomputed from x, μ and s), the parameters' gradients, then dx.
    private void BackwardChannels(Matrix<T> outputGradient, int first, int end)
    {
        var input = _input!;
        int batch = outputGradient.Rows;
        var mean = _mean.Span;
        var s = _invStd.Span;
        var gamma = _gamma.Span;
        T count = T.CreateChecked((long)batch * _plane);
        for (int c = first; c < end; c++)
        {
            int at = c * _plane;
            T sumDy = T.Zero, sumDyCentred = T.Zero;
            for (int n = 0; n < batch; n++)
            {
                var dyc = outputGradient.Row(n).Slice(at, _plane);
                sumDy += TensorPrimitives.Sum<T>(dyc);
                sumDyCentred += DotCentred(dyc, input.Row(n).Slice(at, _plane), mean[c]);
            }
            T sumDyXHat = sumDyCentred * s[c];
            if (Bias is not null) Bias.Gradient.Span[c] += sumDy;
            if (Weight is not null && !FrozenWeight) Weight.Gradient.Span[c] += sumDyXHat;
            T scale = gamma[c] * s[c];
            if (!_batchStatistics)
            {
                for (int n = 0; n < batch; n++) TensorPrimitives.Multiply(outputGradient.Row(n).Slice(at, _plane), scale, InputGradient.Row(n).Slice(at, _plane));
                continue;
            }
            // dx = γ·s/M · (M·dy − Σ dy − x̂·Σ dy·x̂) = γ·s·dy − γ·s/M·Σ dy − (x − μ)·(s·γ·s/M·Σ dy·x̂)
            T shift = scale / count * sumDy, slope = s[c] * (scale / count * sumDyXHat);
            for (int n = 0; n < batch; n++)
                InputGradientOf(outputGradient.Row(n).Slice(at, _plane), input.Row(n).Slice(at, _plane), mean[c], scale, shift, slope,
                                InputGradient.Row(n).Slice(at, _plane));
        }
    }

    // The channels split among the thread team; one per layer, so that a warm pass allocates nothing.
    private sealed class ChannelJob : Compute.IParallelWork
    {
        private BatchNorm2d<T>? _layer;
        private Matrix<T>? _gradient;
        private bool _forward;

        public void Run(BatchNorm2d<T> layer, int batch, bool forward, Matrix<T>? gradient)
        {
            (_layer, _forward, _gradient) = (layer, forward, gradient);
            long work = (long)batch * layer.InputSize;
            int parts = (int)Math.Clamp(work / (1 << 15), 1, Math.Min(Compute.Threading.ThreadCount, layer._channels));
            try { Compute.WorkerTeam.Run(parts, this); }
            finally { (_layer, _gradient) = (null, null); }
        }

        void Compute.IParallelWork.Execute(int part, int parts)
        {
            var layer = _layer!;
            int first = (int)((long)layer._channels * part / parts), end = (int)((long)layer._channels * (part + 1) / parts);
            if (_forward) layer.ForwardChannels(first, end);
            else layer.BackwardChannels(_gradient!, first, end);
        }
    }

    // Σ dy·(x − μ), in a fixed order (vectors, then the tail): the same sums for any thread count.
    private static T DotCentred(ReadOnlySpan<T> dy, ReadOnlySpan<T> x, T mu)
    {
        int i = 0;
        T sum = T.Zero;
        if (Vector.IsHardwareAccelerated && dy.Length >= Vector<T>.Count)
        {
            var acc = Vector<T>.Zero;
            var mv = new Vector<T>(mu);
            for (; i <= dy.Length - Vector<T>.Count; i += Vector<T>.Count)
                acc += new Vector<T>(dy[i..]) * (new Vector<T>(x[i..]) - mv);
            sum = Vector.Sum(acc);
        }
        for (; i < dy.Length; i++) sum += dy[i] * (x[i] - mu);
        return sum;
    }

    // dx = scale·dy − shift − (x − μ)·slope.
    private static void InputGradientOf(ReadOnlySpan<T> dy, ReadOnlySpan<T> x, T mu, T scale, T shift, T slope, Span<T> dx)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<T> mv = new(mu), scv = new(scale), shv = new(shift), slv = new(slope);
            for (; i <= dy.Length - Vector<T>.Count; i += Vector<T>.Count)
                (scv * new Vector<T>(dy[i..]) - shv - (new Vector<T>(x[i..]) - mv) * slv).CopyTo(dx[i..]);
        }
        for (; i < dy.Length; i++) dx[i] = scale * dy[i] - shift - (x[i] - mu) * slope;
    }

}
