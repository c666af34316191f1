using System.Numerics;
using System.Numerics.Tensors;

namespace ScratchNet.Layers;

/// <summary>
/// A constant factor, y = s·x, so dL/dx = s·dL/dy. airbench's <c>Mul(1/9)</c> after the last linear layer: it
/// shrinks the logits, which a weight decay on the linear weights alone would not do at the same learning rate.
/// </summary>
public sealed class Scale<T> : Activation<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T _factor;

    /// <summary>Creates the layer over samples of <paramref name="shape"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The factor is not finite.</exception>
    public Scale(Shape shape, double factor) : base(shape)
    {
        Factor = double.IsFinite(factor) ? factor : throw new ArgumentOutOfRangeException(nameof(factor), factor, "The factor must be finite.");
        _factor = T.CreateChecked(factor);
    }

    /// <summary>The factor s.</summary>
    public double Factor { get; }

    /// <inheritdoc/>
    public override string Kind => "scale";

    /// <inheritdoc/>
    public override IEnumerable<KeyValuePair<string, object>> Settings => [new("factor", Factor)];

    /// <summary>Rebuilds the layer from its settings: the registry's reader.</summary>
    public static Scale<T> Read(LayerSettings settings) => new(settings.Input, settings.Number("factor", double.MinValue, double.MaxValue));

    /// <inheritdoc/>
    /// <remarks>ONNX's Mul by a one-element initializer, broadcast over the batch.</remarks>
    public override string Export(IGraphBuilder<T> graph, string input, string name) =>
        graph.AddNode("Mul", name, [input, graph.AddInitializer($"{name}.factor", [_factor], new Shape(1))]);

    /// <inheritdoc/>
    internal override bool BackwardReadsOutput => false;

    /// <inheritdoc/>
    protected override void Activate(Matrix<T> input, Matrix<T> output) => TensorPrimitives.Multiply(input.Span, _factor, output.Span);

    /// <inheritdoc/>
    protected override void Backpropagate(Matrix<T> output, Matrix<T> outputGradient, Matrix<T> inputGradient) =>
        TensorPrimitives.Multiply(outputGradient.Span, _factor, inputGradient.Span);
}
