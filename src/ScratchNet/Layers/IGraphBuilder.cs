using System.Numerics;

namespace ScratchNet.Layers;

/// <summary>
/// An inference graph being written, in ONNX's terms (operators by their ONNX names, opset 13), so that each
/// layer describes its own export (<see cref="Layer{T}.Export"/>) while the core stays free of the ONNX
/// libraries: <c>ScratchNet.Onnx</c> implements it.
/// </summary>
public interface IGraphBuilder<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// Adds a node of operator <paramref name="opType"/> on the named <paramref name="inputs"/>; returns the
    /// name of its (single) output. Attribute values are <see cref="long"/>, <see cref="float"/> or
    /// <see cref="long"/>[]; <paramref name="name"/> names the node after the layer that made it.
    /// </summary>
    string AddNode(string opType, string name, IReadOnlyList<string> inputs, IReadOnlyList<KeyValuePair<string, object>>? attributes = null);

    /// <summary>Adds a constant tensor of <paramref name="shape"/> holding <paramref name="values"/> (row-major); returns its name, <paramref name="name"/>.</summary>
    string AddInitializer(string name, ReadOnlySpan<T> values, Shape shape);
}
