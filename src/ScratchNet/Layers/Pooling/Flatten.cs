using System.Numerics;

namespace ScratchNet.Layers;

/// <summary>
/// (C, H, W) → (C·H·W), as PyTorch's <c>nn.Flatten()</c>: the row-major storage of a sample is the same under
/// both shapes, so forward returns its input and backward its gradient, without a copy — the shape alone changes.
/// </summary>
/// <remarks>The returned matrices are the caller's: they stay valid as long as the layer before (or after) keeps them.</remarks>
public sealed class Flatten<T>(Shape inputShape) : Layer<T>(inputShape, new Shape(inputShape.Size)) where T : unmanaged, IFloatingPointIeee754<T>
{
    private Matrix<T>? _lastInput;

    /// <inheritdoc/>
    public override string Kind => "flatten";

    /// <summary>Rebuilds the layer from its (empty) settings: the registry's reader.</summary>
    public static Flatten<T> Read(LayerSettings settings) => new(settings.Input);

    /// <inheritdoc/>
    public override string Export(IGraphBuilder<T> graph, string input, string name) =>
        graph.AddNode("Flatten", name, [input], [new("axis", 1L)]);

    /// <inheritdoc/>
    protected override Matrix<T>? LastOutput => _lastInput;

    /// <inheritdoc/>
    protected override Matrix<T> ForwardCore(Matrix<T> input) => _lastInput = input;

    /// <inheritdoc/>
    protected override Matrix<T> BackwardCore(Matrix<T> outputGradient) => outputGradient;
}
