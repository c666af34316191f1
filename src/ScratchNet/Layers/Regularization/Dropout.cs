using System.Numerics;
using System.Numerics.Tensors;

namespace ScratchNet.Layers;

/// <summary>
/// Inverted dropout, as PyTorch's <c>nn.Dropout</c>: in training each element is kept with probability
/// 1 − <see cref="Rate"/> and scaled by 1 / (1 − rate), else zeroed, so the expected output equals the
/// input; in inference it is the identity. The masks are drawn from a seeded <see cref="Rng"/>, so a run
/// is reproducible from the seed.
/// </summary>
public sealed class Dropout<T> : Layer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Rng _rng;
    private readonly T _scale;                  // 1 / (1 − rate)
    private readonly Matrix<T> _mask;           // (B, size): 0 or 1/(1 − rate), drawn by a training Forward
    private bool _masked;                       // the last Forward applied _mask (training with rate > 0)
    private bool _ran;

    /// <summary>Creates a dropout layer over samples of <paramref name="shape"/>.</summary>
    /// <param name="shape">The sample shape, in and out.</param>
    /// <param name="rate">Probability p of zeroing an element, in [0, 1).</param>
    /// <param name="seed">Seeds the generator that draws the masks.</param>
    /// <exception cref="ArgumentOutOfRangeException"> <paramref name="rate"/> is outside [0, 1).</exception>
    public Dropout(Shape shape, double rate, ulong seed = 0) : base(shape, shape)
    {
        if (!(rate >= 0 && rate < 1)) throw new ArgumentOutOfRangeException(nameof(rate), rate, "The dropout rate must be in [0, 1).");
        Rate = rate;
        _rng = new Rng(seed);
        _scale = T.CreateChecked(1 / (1 - rate));
        _mask = new Matrix<T>(0, shape.Size);
    }

    /// <summary>The probability p of zeroing an element in training.</summary>
    public double Rate { get; }

    /// <summary>The mask of the last training forward pass, (B, size): 0 or 1 / (1 − <see cref="Rate"/>) per element; empty before one.</summary>
    public Matrix<T> Mask => _mask;

    /// <summary>The generator that draws the masks; checkpoints save and restore its state.</summary>
    internal override Rng Generator => _rng;

    /// <inheritdoc/>
    /// <remarks>A training forward pass draws one number per element when the rate is not 0.</remarks>
    internal override void SkipTrainingRows(int rows)
    {
        if (Rate > 0) _rng.Skip((long)rows * InputSize);
    }

    /// <inheritdoc/>
    internal override bool BackwardReturnsInputGradient => true;

    /// <inheritdoc/>
    internal override bool ForwardReturnsOutput => true;

    /// <inheritdoc/>
    internal override bool BackwardReadsInput => false;

    /// <inheritdoc/>
    internal override bool BackwardReadsOutput => false;

    /// <inheritdoc/>
    public override string Kind => "dropout";

    /// <inheritdoc/>
    public override IEnumerable<KeyValuePair<string, object>> Settings => [new("rate", Rate)];

    /// <summary>Rebuilds the layer from its settings: the registry's reader. Its generator starts from seed 0; a checkpoint restores its state.</summary>
    public static Dropout<T> Read(LayerSettings settings) =>
        new(settings.Input, settings.Number("rate", 0, 1, maxExclusive: true));

    /// <inheritdoc/>
    /// <remarks>Dropout is the identity at inference.</remarks>
    public override string Export(IGraphBuilder<T> graph, string input, string name) => graph.AddNode("Identity", name, [input]);

    /// <inheritdoc/>
    protected override Matrix<T>? LastOutput => _ran ? Output : null;

    /// <inheritdoc/>
    protected override Matrix<T> ForwardCore(Matrix<T> input)
    {
        Output.SetRows(input.Rows);
        _ran = true;
        _masked = Training && Rate > 0;
        if (!_masked)
        {
            input.Span.CopyTo(Output.Span);
            return Output;
        }
        TensorPrimitives.Multiply(input.Span, DrawMask(input.Rows).Span, Output.Span);
        return Output;
    }

    /// <summary>
    /// Draws the next training mask, (<paramref name="rows"/>, size), into <see cref="Mask"/>: on the host for the
    /// device half too, so that a run draws the same masks from the same generator on every device.
    /// </summary>
    internal Matrix<T> DrawMask(int rows)
    {
        _mask.SetRows(rows);
        foreach (ref T m in _mask.Span) m = _rng.NextDouble() >= Rate ? _scale : T.Zero;
        return _mask;
    }

    /// <inheritdoc/>
    protected override Matrix<T> BackwardCore(Matrix<T> outputGradient)
    {
        InputGradient.SetRows(outputGradient.Rows);
        if (_masked) TensorPrimitives.Multiply(outputGradient.Span, _mask.Span, InputGradient.Span);
        else outputGradient.Span.CopyTo(InputGradient.Span);
        return InputGradient;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Kind}({InputSize}, p={Rate})";
}
