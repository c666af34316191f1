using System.Globalization;
using System.Numerics;

namespace ScratchNet.Layers;

/// <summary>One tensor of a network's state under its full name, e.g. "3.body.0.weight", with the shape files give it.</summary>
/// <param name="Name">The state-dict name: the layer's path, then the tensor's own name.</param>
/// <param name="Value">The live storage.</param>
/// <param name="Shape">The shape model files and PyTorch give it.</param>
/// <param name="Parameter">The parameter it is the value of, or null for a buffer (e.g. a running mean).</param>
public sealed record StateEntry<T>(string Name, Matrix<T> Value, Shape Shape, Parameter<T>? Parameter) where T : unmanaged, IFloatingPointIeee754<T>;

/// <summary>Walks a chain of layers and their children in PyTorch's state-dict order: each module's parameters, its buffers, then its children.</summary>
internal static class ModuleState
{
    /// <summary>Every module with its path ("0", "3.body", "3.body.0", …), each before its children.</summary>
    public static List<Named<Layer<T>>> Modules<T>(IReadOnlyList<Layer<T>> layers) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var modules = new List<Named<Layer<T>>>();
        for (int i = 0; i < layers.Count; i++) Visit(layers[i], i.ToString(CultureInfo.InvariantCulture), modules);
        return modules;

        static void Visit(Layer<T> layer, string path, List<Named<Layer<T>>> modules)
        {
            modules.Add(new(path, layer));
            foreach (var (name, child) in layer.Children) Visit(child, $"{path}.{name}", modules);
        }
    }

    /// <summary>The named state of <paramref name="layers"/>, in state-dict order.</summary>
    public static List<StateEntry<T>> Entries<T>(IReadOnlyList<Layer<T>> layers) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var entries = new List<StateEntry<T>>();
        foreach (var (path, layer) in Modules(layers))
        {
            foreach (var parameter in layer.Parameters) entries.Add(new($"{path}.{parameter.Name}", parameter.Value, parameter.Shape, parameter));
            foreach (var buffer in layer.Buffers) entries.Add(new($"{path}.{buffer.Name}", buffer.Value, buffer.Shape, null));
        }
        return entries;
    }

    /// <summary>Every parameter, in state-dict order.</summary>
    public static List<Parameter<T>> Parameters<T>(IReadOnlyList<Layer<T>> layers) where T : unmanaged, IFloatingPointIeee754<T> =>
        [.. Modules(layers).SelectMany(m => m.Value.Parameters)];

    /// <summary>Every buffer's storage, in state-dict order.</summary>
    public static List<Matrix<T>> Buffers<T>(IReadOnlyList<Layer<T>> layers) where T : unmanaged, IFloatingPointIeee754<T> =>
        [.. Modules(layers).SelectMany(m => m.Value.Buffers).Select(b => b.Value)];

    /// <summary>The generators of the layers that draw in training (dropout), in module order.</summary>
    public static List<Rng> Generators<T>(IReadOnlyList<Layer<T>> layers) where T : unmanaged, IFloatingPointIeee754<T> =>
        [.. Modules(layers).Select(m => m.Value.Generator).OfType<Rng>()];
}
