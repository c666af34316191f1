using System.Numerics;
using System.Numerics.Tensors;
using ScratchNet.Optimizers;

namespace ScratchNet.Layers;

/// <summary>
/// A residual block: y = body(x) + x, or y = body(x) + projection(x) when the body changes the shape
/// (the projection, e.g. a linear layer, maps x to the body's output shape). Backward: the output
/// gradient flows into both branches and their input gradients add, dx = body′ᵀ·dy + (projection′ᵀ·dy or dy).
/// Its children are named "body" and "projection", so the state reads <c>{i}.body.0.weight</c>, as a
/// PyTorch module with those attributes names it.
/// </summary>
public sealed class Residual<T> : Layer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Named<Layer<T>>[] _children;
    private bool _ran;

    /// <summary>A block around <paramref name="body"/>, with <paramref name="projection"/> on the skip path or the identity.</summary>
    /// <exception cref="NetworkBuildException">The branches do not read the same shape or do not write the same shape.</exception>
    public Residual(Layer<T> body, Layer<T>? projection = null) : base(body.InputShape, body.OutputShape)
    {
        var skipShape = projection?.OutputShape ?? body.InputShape;
        if (projection is not null && projection.InputShape != body.InputShape)
            throw new NetworkBuildException($"The residual projection {projection} reads {projection.InputShape}, but the body {body} reads {body.InputShape}.");
        if (skipShape != body.OutputShape)
            throw new NetworkBuildException(projection is null
                ? $"The residual body {body} maps {body.InputShape} to {body.OutputShape}: without a projection it must keep the shape."
                : $"The residual body {body} writes {body.OutputShape}, but the projection {projection} writes {skipShape}.");
        Body = body;
        Projection = projection;
        _children = projection is null ? [new("body", body)] : [new("body", body), new("projection", projection)];
    }

    /// <summary>The branch that learns the residual.</summary>
    public Layer<T> Body { get; }

    /// <summary>The skip path's map, or null for the identity.</summary>
    public Layer<T>? Projection { get; }

    /// <inheritdoc/>
    public override IReadOnlyList<Named<Layer<T>>> Children => _children;

    /// <inheritdoc/>
    internal override bool BackwardReturnsInputGradient => true;

    /// <inheritdoc/>
    internal override bool ForwardReturnsOutput => true;

    /// <inheritdoc/>
    public override string Kind => "residual";

    /// <inheritdoc/>
    public override IEnumerable<KeyValuePair<string, object>> Settings => Projection is null
        ? [new("body", LayerRegistry.Describe(Body))]
        : [new("body", LayerRegistry.Describe(Body)), new("projection", LayerRegistry.Describe(Projection))];

    /// <summary>Rebuilds the block from its settings: the registry's reader.</summary>
    public static Residual<T> Read(LayerSettings settings) =>
        new(settings.Child<T>("body", settings.Input), settings.OptionalChild<T>("projection", settings.Input));

    /// <inheritdoc/>
    public override string Export(IGraphBuilder<T> graph, string input, string name)
    {
        string body = Body.Export(graph, input, $"{name}.body");
        string skip = Projection?.Export(graph, input, $"{name}.projection") ?? input;
        return graph.AddNode("Add", name, [body, skip]);
    }

    /// <inheritdoc/>
    protected override Matrix<T>? LastOutput => _ran ? Output : null;

    /// <inheritdoc/>
    protected override Matrix<T> ForwardCore(Matrix<T> input)
    {
        var body = Body.Forward(input);
        var skip = Projection?.Forward(input) ?? input;
        Output.SetRows(input.Rows);
        TensorPrimitives.Add(body.Span, skip.Span, Output.Span);
        _ran = true;
        return Output;
    }

    /// <inheritdoc/>
    protected override Matrix<T> BackwardCore(Matrix<T> outputGradient)
    {
        var body = Body.Backward(outputGradient);
        var skip = Projection?.Backward(outputGradient) ?? outputGradient;
        return Sum(body, skip);
    }

    /// <inheritdoc/>
    internal override Matrix<T>? BackwardAndStep(Matrix<T> outputGradient, SgdStep<T> step, bool needInputGradient)
    {
        var body = Body.BackwardAndStep(outputGradient, step, needInputGradient);
        var skip = Projection is null ? outputGradient : Projection.BackwardAndStep(outputGradient, step, needInputGradient);
        return needInputGradient ? Sum(body!, skip!) : null;
    }

    private Matrix<T> Sum(Matrix<T> body, Matrix<T> skip)
    {
        InputGradient.SetRows(body.Rows);
        TensorPrimitives.Add(body.Span, skip.Span, InputGradient.Span);
        return InputGradient;
    }

    /// <inheritdoc/>
    public override string ToString() => Projection is null ? $"residual({Body})" : $"residual({Body}, projection {Projection})";
}
