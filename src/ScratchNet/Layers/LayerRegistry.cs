using System.Numerics;

namespace ScratchNet.Layers;

/// <summary>
/// Layer types by the name model files give them (<see cref="Layer{T}.Kind"/>), each with how to rebuild a
/// layer from its saved <see cref="Layer{T}.Settings"/>. Model files, checkpoints and the CLI's
/// architecture settings go through it, so a new layer type is known everywhere once it is registered.
/// </summary>
public static class LayerRegistry
{
    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, Readers> Types = new()
    {
        ["linear"] = new(Linear<float>.Read, Linear<double>.Read),
        ["relu"] = new(Relu<float>.Read, Relu<double>.Read),
        ["leaky_relu"] = new(LeakyRelu<float>.Read, LeakyRelu<double>.Read),
        ["sigmoid"] = new(Sigmoid<float>.Read, Sigmoid<double>.Read),
        ["tanh"] = new(Tanh<float>.Read, Tanh<double>.Read),
        ["gelu"] = new(Gelu<float>.Read, Gelu<double>.Read),
        ["softmax"] = new(Softmax<float>.Read, Softmax<double>.Read),
        ["scale"] = new(Scale<float>.Read, Scale<double>.Read),
        ["dropout"] = new(Dropout<float>.Read, Dropout<double>.Read),
        ["batchnorm1d"] = new(BatchNorm1d<float>.Read, BatchNorm1d<double>.Read),
        ["batchnorm2d"] = new(BatchNorm2d<float>.Read, BatchNorm2d<double>.Read),
        ["conv2d"] = new(Conv2d<float>.Read, Conv2d<double>.Read),
        ["maxpool2d"] = new(MaxPool2d<float>.Read, MaxPool2d<double>.Read),
        ["avgpool2d"] = new(AvgPool2d<float>.Read, AvgPool2d<double>.Read),
        ["global_avgpool2d"] = new(GlobalAvgPool2d<float>.Read, GlobalAvgPool2d<double>.Read),
        ["flatten"] = new(Flatten<float>.Read, Flatten<double>.Read),
        ["sequential"] = new(Sequential<float>.Read, Sequential<double>.Read),
        ["residual"] = new(Residual<float>.Read, Residual<double>.Read),
    };

    private sealed record Readers(Func<LayerSettings, Layer<float>> Float, Func<LayerSettings, Layer<double>> Double);

    /// <summary>Every registered type name.</summary>
    public static IReadOnlyList<string> Kinds
    {
        get { lock (Gate) return [.. Types.Keys]; }
    }

    /// <summary>
    /// Registers a layer type of your own under <paramref name="kind"/> (its <see cref="Layer{T}.Kind"/>), with the
    /// functions that rebuild a float32 and a float64 layer from its settings.
    /// </summary>
    /// <exception cref="ArgumentException">The name is empty or taken.</exception>
    public static void Register(string kind, Func<LayerSettings, Layer<float>> readFloat, Func<LayerSettings, Layer<double>> readDouble)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(kind);
        lock (Gate)
            if (!Types.TryAdd(kind, new Readers(readFloat, readDouble)))
                throw new ArgumentException($"A layer type '{kind}' is registered already.", nameof(kind));
    }

    /// <summary>Rebuilds the layer <paramref name="settings"/> describe.</summary>
    /// <exception cref="ScratchNetException">An unknown type or bad settings, as <paramref name="settings"/>' source reports them.</exception>
    public static Layer<T> Read<T>(LayerSettings settings) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Readers? readers;
        lock (Gate) Types.TryGetValue(settings.Kind, out readers);
        if (readers is null) throw settings.Fault($"has unknown type '{settings.Kind}'");
        object layer = typeof(T) == typeof(float) ? readers.Float(settings) : readers.Double(settings);
        return (Layer<T>)layer;
    }

    /// <summary>The settings entry of <paramref name="layer"/>: its type under "type", then its <see cref="Layer{T}.Settings"/>.</summary>
    public static Dictionary<string, object> Describe<T>(Layer<T> layer) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var entry = new Dictionary<string, object> { ["type"] = layer.Kind };
        foreach (var (key, value) in layer.Settings) entry[key] = value;
        return entry;
    }

    /// <summary>The settings entries of a chain of layers, in order.</summary>
    public static List<Dictionary<string, object>> Describe<T>(IEnumerable<Layer<T>> layers) where T : unmanaged, IFloatingPointIeee754<T> =>
        [.. layers.Select(Describe)];
}
