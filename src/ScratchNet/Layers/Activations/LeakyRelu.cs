using System.Numerics;

namespace ScratchNet.Layers;

/// <summary>
/// Leaky ReLU, y = x for x &gt; 0 and slope·x otherwise; its gradient is 1 where y &gt; 0 and slope
/// elsewhere (slope at x = 0, as PyTorch). The slope is in [0, 1), so y &gt; 0 exactly when x &gt; 0.
/// </summary>
public sealed class LeakyRelu<T> : Activation<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T _slope;

    /// <summary>Creates the layer; <paramref name="negativeSlope"/> is PyTorch's default 0.01.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The slope is not in [0, 1).</exception>
    public LeakyRelu(Shape shape, double negativeSlope = 0.01) : base(shape)
    {
        NegativeSlope = negativeSlope is >= 0 and < 1
            ? negativeSlope
            : throw new ArgumentOutOfRangeException(nameof(negativeSlope), negativeSlope, "The negative slope must be in [0, 1).");
        _slope = T.CreateChecked(negativeSlope);
    }

    /// <summary>The slope for x ≤ 0.</summary>
    public double NegativeSlope { get; }

    /// <inheritdoc/>
    public override string Kind => "leaky_relu";

    /// <inheritdoc/>
    public override IEnumerable<KeyValuePair<string, object>> Settings => [new("negative_slope", NegativeSlope)];

    /// <summary>Rebuilds the layer from its settings (without a <c>negative_slope</c>, PyTorch's 0.01): the registry's reader.</summary>
    public static LeakyRelu<T> Read(LayerSettings settings) =>
        new(settings.Input, settings.Number("negative_slope", 0.01, 0, 1, maxExclusive: true));

    /// <inheritdoc/>
    public override string Export(IGraphBuilder<T> graph, string input, string name) =>
        graph.AddNode("LeakyRelu", name, [input], [new("alpha", (float)NegativeSlope)]);

    /// <inheritdoc/>
    protected override void Activate(Matrix<T> input, Matrix<T> output)
    {
        var x = input.Span;
        var y = output.Span;
        for (int i = 0; i < y.Length; i++) y[i] = x[i] > T.Zero ? x[i] : _slope * x[i];
    }

    /// <inheritdoc/>
    protected override void Backpropagate(Matrix<T> output, Matrix<T> outputGradient, Matrix<T> inputGradient)
    {
        var y = output.Span;
        var dy = outputGradient.Span;
        var dx = inputGradient.Span;
        for (int i = 0; i < dx.Length; i++) dx[i] = y[i] > T.Zero ? dy[i] : _slope * dy[i];
    }
}
