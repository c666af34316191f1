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
/// In a network, the layer applies an element-wise activation that follows it (GELU, ReLU: <see cref="TakeActivation"/>) to
/// each sample's run of output planes while it is in cache, and the activation hands its input on: y = f(z),
/// z = γ·s·(x − μ) + β. The backward pass then recomputes z from x the same way, turns dy into dz = dy·f′(z) sample by
/// sample in the input-gradient buffer, and goes on from dz as above. Every value is the one the two layers compute apart, bit for bit; the pair
/// saves the activation's pass in each direction and the tensor of z that the activation's backward would read.
/// </remarks>
public sealed class BatchNorm2d<T> : Layer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T _momentum, _epsilon;
    private readonly int _channels, _plane;
    private readonly Matrix<T> _gamma, _beta;   // (1, C): the parameters' values, or ones and zeros without affine
    private readonly Matrix<T> _mean;           // (1, C): μ of the last forward pass (the batch's, or the running estimate)
    private readonly Matrix<T> _invStd;         // (1, C): s of the last forward pass
    private readonly Matrix<T> _sumDy, _sumDyCentred;   // (1, C): the backward pass's sums per channel, then its shift and slope
    private readonly ChannelJob _job = new();
    private Matrix<T>? _input;                  // (B, C·H·W): x of the last forward pass (the layer before owns it)
    private Activation<T>? _activation;         // the activation after it that this layer applies, if a network handed it one
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
        _sumDy = new Matrix<T>(1, _channels);
        _sumDyCentred = new Matrix<T>(1, _channels);
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
    internal override bool TakeActivation(Activation<T> activation)
    {
        if (_activation is not null || !activation.AppliesToSlices) return false;
        _activation = activation;
        return true;
    }

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

    // Channels [first, end): statistics (or the running ones) and running estimates channel by channel, then
    // y = f(γ·s·(x − μ) + β) sample by sample. Each channel sums over the batch in sample order, and every output value
    // depends on its channel's statistics alone: any split gives the same numbers. The output pass runs sample by sample so
    // that an activation applied here sees the range's channels of a sample as one contiguous run (no partial vector per
    // plane). Each plane is one call of a kernel of ours, not several of TensorPrimitives': on 3×3 and 7×7 planes the
    // calls' overhead was most of the pass.
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
                for (int n = 0; n < batch; n++) sum += Sum(input.Row(n).Slice(at, _plane));
                T mu = sum / count;
                for (int n = 0; n < batch; n++) squares += SumOfCentredSquares(input.Row(n).Slice(at, _plane), mu);
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
            }
        }
        for (int n = 0; n < batch; n++)
        {
            var x = input.Row(n);
            var y = Output.Row(n);
            for (int c = first; c < end; c++)
                Normalise(x.Slice(c * _plane, _plane), mean[c], s[c] * gamma[c], beta[c], y.Slice(c * _plane, _plane));
            _activation?.ActivateSlice(y[(first * _plane)..(end * _plane)]);
        }
    }

    // z = γ·s·(x − μ) + β as (x − μ), then ·(s·γ) (one rounding fewer than x̂ first, γ· after), then + β, each rounded (no
    // fused multiply-add): the forward pass and the backward pass's recomputation of z round alike.
    internal static void Normalise(ReadOnlySpan<T> x, T mean, T scale, T beta, Span<T> z)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<T> mv = new(mean), sv = new(scale), bv = new(beta);
            for (; i <= x.Length - Vector<T>.Count; i += Vector<T>.Count)
                ((new Vector<T>(x[i..]) - mv) * sv + bv).CopyTo(z[i..]);
        }
        for (; i < x.Length; i++) z[i] = (x[i] - mean) * scale + beta;
    }

    /// <inheritdoc/>
    protected override Matrix<T> BackwardCore(Matrix<T> outputGradient)
    {
        InputGradient.SetRows(outputGradient.Rows);
        _job.Run(this, outputGradient.Rows, forward: false, outputGradient);
        return InputGradient;
    }

    // Channels [first, end): Σ dy and Σ dy·x̂ (x̂ recomputed from x, μ and s) sample by sample into per-channel sums (each in
    // sample order, as the forward pass's), the parameters' gradients, then dx. With an activation applied, dL/dz is made
    // first, in the input-gradient buffer: z recomputed plane by plane, then f′ over the range's contiguous run of the sample.
    private void BackwardChannels(Matrix<T> outputGradient, int first, int end)
    {
        var input = _input!;
        int batch = outputGradient.Rows;
        var mean = _mean.Span;
        var s = _invStd.Span;
        var gamma = _gamma.Span;
        var beta = _beta.Span;
        var sumDy = _sumDy.Span;
        var sumDyCentred = _sumDyCentred.Span;
        var activation = _activation;
        var dz = activation is null ? outputGradient : InputGradient;   // what the sums and dx read: dL/d(γ·x̂ + β)
        sumDy[first..end].Clear();
        sumDyCentred[first..end].Clear();
        for (int n = 0; n < batch; n++)
        {
            var x = input.Row(n);
            var dzn = dz.Row(n);
            if (activation is not null)
            {
                for (int c = first; c < end; c++)
                    Normalise(x.Slice(c * _plane, _plane), mean[c], s[c] * gamma[c], beta[c], dzn.Slice(c * _plane, _plane));
                var run = dzn[(first * _plane)..(end * _plane)];
                activation.BackpropagateSlice(run, outputGradient.Row(n)[(first * _plane)..(end * _plane)], run);
            }
            for (int c = first; c < end; c++)
            {
                var dyc = dzn.Slice(c * _plane, _plane);
                var (plain, centred) = Sums(dyc, x.Slice(c * _plane, _plane), mean[c]);
                sumDy[c] += plain;
                sumDyCentred[c] += centred;
            }
        }
        T count = T.CreateChecked((long)batch * _plane);
        for (int c = first; c < end; c++)
        {
            T sumDyXHat = sumDyCentred[c] * s[c];
            if (Bias is not null) Bias.Gradient.Span[c] += sumDy[c];
            if (Weight is not null && !FrozenWeight) Weight.Gradient.Span[c] += sumDyXHat;
            // dx = γ·s/M · (M·dy − Σ dy − x̂·Σ dy·x̂) = γ·s·dy − γ·s/M·Σ dy − (x − μ)·(s·γ·s/M·Σ dy·x̂); in inference γ·s·dy.
            T scale = s[c] * gamma[c];
            (sumDy[c], sumDyCentred[c]) = _batchStatistics ? (scale / count * sumDy[c], s[c] * (scale / count * sumDyXHat)) : (T.Zero, T.Zero);
        }
        for (int n = 0; n < batch; n++)   // sumDy now holds each channel's shift, sumDyCentred its slope
            for (int c = first; c < end; c++)
            {
                int at = c * _plane;
                var dx = InputGradient.Row(n).Slice(at, _plane);
                if (_batchStatistics) InputGradientOf(dz.Row(n).Slice(at, _plane), input.Row(n).Slice(at, _plane), mean[c], s[c] * gamma[c], sumDy[c], sumDyCentred[c], dx);
                else TensorPrimitives.Multiply(dz.Row(n).Slice(at, _plane), s[c] * gamma[c], dx);
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

    // Σ x, in a fixed order (vectors, then the tail): the same sums for any thread count.
    internal static T Sum(ReadOnlySpan<T> x)
    {
        int i = 0;
        T sum = T.Zero;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<T>.Count)
        {
            var acc = Vector<T>.Zero;
            for (; i <= x.Length - Vector<T>.Count; i += Vector<T>.Count) acc += new Vector<T>(x[i..]);
            sum = Vector.Sum(acc);
        }
        for (; i < x.Length; i++) sum += x[i];
        return sum;
    }

    // Σ (x − μ)², in the same fixed order.
    internal static T SumOfCentredSquares(ReadOnlySpan<T> x, T mu)
    {
        int i = 0;
        T sum = T.Zero;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<T>.Count)
        {
            var acc = Vector<T>.Zero;
            var mv = new Vector<T>(mu);
            for (; i <= x.Length - Vector<T>.Count; i += Vector<T>.Count)
            {
                var d = new Vector<T>(x[i..]) - mv;
                acc += d * d;
            }
            sum = Vector.Sum(acc);
        }
        for (; i < x.Length; i++) sum += (x[i] - mu) * (x[i] - mu);
        return sum;
    }

    // Σ dy and Σ dy·(x − μ) in one pass, in the same fixed order.
    internal static (T Plain, T Centred) Sums(ReadOnlySpan<T> dy, ReadOnlySpan<T> x, T mu)
    {
        int i = 0;
        T plain = T.Zero, centred = T.Zero;
        if (Vector.IsHardwareAccelerated && dy.Length >= Vector<T>.Count)
        {
            Vector<T> accPlain = Vector<T>.Zero, accCentred = Vector<T>.Zero;
            var mv = new Vector<T>(mu);
            for (; i <= dy.Length - Vector<T>.Count; i += Vector<T>.Count)
            {
                var d = new Vector<T>(dy[i..]);
                accPlain += d;
                accCentred += d * (new Vector<T>(x[i..]) - mv);
            }
            (plain, centred) = (Vector.Sum(accPlain), Vector.Sum(accCentred));
        }
        for (; i < dy.Length; i++)
        {
            plain += dy[i];
            centred += dy[i] * (x[i] - mu);
        }
        return (plain, centred);
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
