using System.Numerics;
using ScratchNet.Layers;
using ScratchNet.Optimizers;

namespace ScratchNet;

/// <summary>
/// Records the layers a training forward pass ran, in order, so that <see cref="Backward"/> can walk
/// them in reverse, each layer turning the gradient of its output into the gradient of its input.
/// </summary>
public sealed class GradientTape<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly List<Layer<T>> _recorded = [];

    /// <summary>The layers recorded since the last <see cref="Clear"/>, in forward order.</summary>
    public IReadOnlyList<Layer<T>> Recorded => _recorded;

    /// <summary>Runs <paramref name="layer"/> forward on <paramref name="input"/> and records it.</summary>
    public Matrix<T> Forward(Layer<T> layer, Matrix<T> input)
    {
        var output = layer.Forward(input);
        _recorded.Add(layer);
        return output;
    }

    /// <summary>Back-propagates dL/d(last output) through the recorded layers; returns dL/d(first input).</summary>
    public Matrix<T> Backward(Matrix<T> outputGradient) => BackwardLayerByLayer(outputGradient, afterLayer: null);

    /// <summary>As <see cref="Backward"/>, telling <paramref name="afterLayer"/> the index of each recorded layer as soon as its backward is done (its parameter gradients are then final).</summary>
    public Matrix<T> BackwardLayerByLayer(Matrix<T> outputGradient, Action<int>? afterLayer) => BackwardLayerByLayer(outputGradient, afterLayer, needInputGradient: true)!;

    /// <summary>
    /// As <see cref="BackwardLayerByLayer(Matrix{T}, Action{int}?)"/>, down to the recorded layer <paramref name="first"/>:
    /// without <paramref name="needInputGradient"/> that layer may skip its input gradient (then null), and the layers
    /// before it do not run backward at all (a training step whose first layers hold only frozen parameters).
    /// </summary>
    internal Matrix<T>? BackwardLayerByLayer(Matrix<T> outputGradient, Action<int>? afterLayer, bool needInputGradient, int first = 0)
    {
        if (needInputGradient && first > 0) throw new ArgumentOutOfRangeException(nameof(first), first, "An input gradient needs every layer's backward pass.");
        Matrix<T>? gradient = outputGradient;
        for (int i = _recorded.Count - 1; i >= first; i--)
        {
            gradient = _recorded[i].Backward(gradient!, needInputGradient: i > first || needInputGradient);
            afterLayer?.Invoke(i);
        }
        return first == 0 ? gradient : null;
    }

    /// <summary>
    /// Back-propagates as <see cref="Backward"/> does, each layer taking its SGD step as soon as its
    /// gradients are known, down to the recorded layer <paramref name="first"/>, whose input gradient, which nothing
    /// needs, is not computed; the layers before it do not run backward.
    /// </summary>
    internal void BackwardAndStep(Matrix<T> outputGradient, SgdStep<T> step, int first = 0)
    {
        Matrix<T>? gradient = outputGradient;
        for (int i = _recorded.Count - 1; i >= first; i--)
            gradient = _recorded[i].BackwardAndStep(gradient!, step, needInputGradient: i > first);
    }

    /// <summary>Forgets the recorded layers, ready for the next step.</summary>
    public void Clear() => _recorded.Clear();
}
