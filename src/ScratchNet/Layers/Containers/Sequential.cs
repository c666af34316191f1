using System.Globalization;
using System.Numerics;
using ScratchNet.Optimizers;

namespace ScratchNet.Layers;

/// <summary>
/// Layers run one after another, each reading what the one before writes, as PyTorch's
/// <c>nn.Sequential</c>: itself a layer, so it nests (e.g. as a <see cref="Residual{T}"/>'s body). Its
/// children are named by index, so their state is saved as <c>{i}.weight</c>, as PyTorch names it.
/// </summary>
public sealed class Sequential<T> : Layer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Layer<T>[] _layers;
    private readonly Named<Layer<T>>[] _children;
    private Matrix<T>? _lastOutput;

    /// <summary>Chains <paramref name="layers"/>, which must fit end to end.</summary>
    /// <exception cref="NetworkBuildException">No layers, or a layer does not read the shape the one before writes; the message names both and their shapes.</exception>
    public Sequential(params IReadOnlyList<Layer<T>> layers) : base(Checked(layers)[0].InputShape, layers[^1].OutputShape)
    {
        _layers = [.. layers];
        _children = [.. _layers.Select((layer, i) => new Named<Layer<T>>(i.ToString(CultureInfo.InvariantCulture), layer))];
    }

    /// <summary>The layers in order.</summary>
    public IReadOnlyList<Layer<T>> Layers => _layers;

    /// <inheritdoc/>
    public override IReadOnlyList<Named<Layer<T>>> Children => _children;

    /// <inheritdoc/>
    public override string Kind => "sequential";

    /// <inheritdoc/>
    public override IEnumerable<KeyValuePair<string, object>> Settings => [new("layers", LayerRegistry.Describe<T>(_layers))];

    /// <summary>Rebuilds the chain from its settings: the registry's reader.</summary>
    public static Sequential<T> Read(LayerSettings settings) => new(settings.Chain<T>("layers"));

    /// <inheritdoc/>
    public override string Export(IGraphBuilder<T> graph, string input, string name)
    {
        string value = input;
        for (int i = 0; i < _layers.Length; i++) value = _layers[i].Export(graph, value, $"{name}.{_children[i].Name}");
        return value;
    }

    /// <inheritdoc/>
    protected override Matrix<T>? LastOutput => _lastOutput;

    /// <inheritdoc/>
    protected override Matrix<T> ForwardCore(Matrix<T> input)
    {
        var output = input;
        for (int i = 0; i < _layers.Length; i++) output = _layers[i].Forward(output);
        return _lastOutput = output;
    }

    /// <inheritdoc/>
    protected override Matrix<T> BackwardCore(Matrix<T> outputGradient)
    {
        var gradient = outputGradient;
        for (int i = _layers.Length - 1; i >= 0; i--) gradient = _layers[i].Backward(gradient);
        return gradient;
    }

    /// <inheritdoc/>
    internal override Matrix<T>? BackwardParametersOnly(Matrix<T> outputGradient)
    {
        Matrix<T>? gradient = outputGradient;
        for (int i = _layers.Length - 1; i >= 0; i--) gradient = _layers[i].Backward(gradient!, needInputGradient: i > 0);
        return gradient;
    }

    /// <inheritdoc/>
    internal override Matrix<T>? BackwardAndStep(Matrix<T> outputGradient, SgdStep<T> step, bool needInputGradient)
    {
        Matrix<T>? gradient = outputGradient;
        for (int i = _layers.Length - 1; i >= 0; i--)
            gradient = _layers[i].BackwardAndStep(gradient!, step, needInputGradient: i > 0 || needInputGradient);
        return gradient;
    }

    /// <inheritdoc/>
    public override string ToString() => $"sequential[{string.Join(", ", _layers.Select(l => l.ToString()))}]";

    private static IReadOnlyList<Layer<T>> Checked(IReadOnlyList<Layer<T>> layers)
    {
        if (layers.Count == 0) throw new NetworkBuildException("A sequential block needs at least one layer.");
        for (int i = 1; i < layers.Count; i++)
            if (layers[i].InputShape != layers[i - 1].OutputShape)
                throw new NetworkBuildException(
                    $"Layer #{i} {layers[i]} reads samples of shape {layers[i].InputShape}, but it follows layer #{i - 1} {layers[i - 1]}, which writes {layers[i - 1].OutputShape}.");
        return layers;
    }
}
