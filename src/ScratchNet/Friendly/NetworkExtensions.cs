using System.Numerics;
using System.Numerics.Tensors;
using ScratchNet.Data;

namespace ScratchNet;

/// <summary>Conveniences over <see cref="Network{T}"/>'s public API: class predictions and evaluation against class indices.</summary>
public static class NetworkExtensions
{
    /// <summary>The predicted class of each row of <paramref name="x"/>, (rows, inputs): the index of its largest output.</summary>
    /// <exception cref="ShapeMismatchException"><paramref name="x"/> does not have the network's input width.</exception>
    public static int[] PredictClasses<T>(this Network<T> network, Matrix<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        var outputs = network.Predict(x);
        var classes = new int[outputs.Rows];
        for (int r = 0; r < classes.Length; r++) classes[r] = TensorPrimitives.IndexOfMax<T>(outputs.Row(r));
        return classes;
    }

    /// <summary>
    /// Mean loss (penalty included) and accuracy of the network on features <paramref name="x"/> against class indices
    /// <paramref name="labels"/> (0 … outputs − 1), one per row; the one-hot targets are built a chunk at a time.
    /// </summary>
    /// <exception cref="ShapeMismatchException">x has the wrong width, or the labels differ from its rows in number.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A label is outside [0, outputs).</exception>
    public static (double Loss, double Accuracy) Evaluate<T>(this Network<T> network, Matrix<T> x, ReadOnlySpan<int> labels)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        var samples = new LabeledSamples<T>(x, labels, network.Outputs);
        return network.Evaluate(samples, Enumerable.Range(0, samples.Count).ToArray());
    }
}
