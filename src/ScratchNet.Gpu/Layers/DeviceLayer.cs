using System.Collections.Concurrent;
using System.Numerics;
using System.Reflection;
using ILGPU;
using ScratchNet.Gpu.Kernels;
using ScratchNet.Layers;

namespace ScratchNet.Gpu.Layers;

/// <summary>
/// A layer's device half: its forward and backward pass through the device's <see cref="Primitives{T}"/> (and
/// kernels of its own), over device matrices, with its parameters in the network's flat device buffers. It reads
/// its host layer for everything but the numbers: settings, training mode, the dropout generator.
/// </summary>
/// <remarks>
/// As on the host: <see cref="Forward"/> keeps what <see cref="Backward"/> needs; both return matrices the half
/// owns, valid until its next call; <see cref="Backward"/> adds into its parameters' gradients.
/// A device half is found by its <see cref="DeviceHalfAttribute"/>: a new layer adds its file and nothing else here.
/// </remarks>
internal abstract class DeviceLayer<T>(DeviceContext<T> context) : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private static readonly ConcurrentDictionary<Type, Type?> HalfOf = new();

    /// <summary>The device, its primitives and the network's parameter views.</summary>
    protected DeviceContext<T> Context { get; } = context;

    /// <summary>The device's primitives.</summary>
    protected Primitives<T> Run => Context.Primitives;

    /// <summary>The output of <paramref name="input"/>.</summary>
    public abstract DeviceMatrix<T> Forward(DeviceMatrix<T> input);

    /// <summary>Adds dL/d parameter into the parameters' device gradients and returns dL/d input.</summary>
    public abstract DeviceMatrix<T> Backward(DeviceMatrix<T> outputGradient);

    /// <summary>Writes the half's buffers (batch norm's running estimates) into the host layer's.</summary>
    public virtual void CopyToHost() { }

    /// <summary>Takes the host layer's buffers.</summary>
    public virtual void CopyFromHost() { }

    /// <summary>Releases the half's device matrices.</summary>
    public virtual void Dispose() { }

    /// <summary>A new device matrix of <paramref name="cols"/> columns.</summary>
    protected DeviceMatrix<T> NewMatrix(int cols) => Context.Track(new DeviceMatrix<T>(Context.Device, cols));

    /// <summary>
    /// The device half of <paramref name="layer"/>: the class marked <see cref="DeviceHalfAttribute"/> for its generic type definition.
    /// </summary>
    /// <exception cref="DeviceException">The layer type has no device half; the message names the layer at <paramref name="path"/>.</exception>
    public static DeviceLayer<T> Create(Layer<T> layer, string path, DeviceContext<T> context)
    {
        var half = HalfTypeOf(layer)
            ?? throw new DeviceException($"layer {path} {layer} ({layer.GetType().Name.Split('`')[0]}) has no device half: it runs on the CPU only");
        var constructed = half.IsGenericTypeDefinition ? half.MakeGenericType(typeof(T)) : half;
        try
        {
            return (DeviceLayer<T>)Activator.CreateInstance(constructed, layer, context)!;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
    }

    /// <summary>Whether <paramref name="layer"/>'s type has a device half (its children are checked on their own).</summary>
    public static bool HasHalf(Layer<T> layer) => HalfTypeOf(layer) is not null;

    private static Type? HalfTypeOf(Layer<T> layer)
    {
        var type = layer.GetType();
        return HalfOf.GetOrAdd(type.IsGenericType ? type.GetGenericTypeDefinition() : type, FindHalf);
    }

    private static Type? FindHalf(Type layerDefinition) =>
        typeof(DeviceLayer<>).Assembly.GetTypes()
            .FirstOrDefault(t => t.GetCustomAttributes<DeviceHalfAttribute>().Any(a => a.Layer == layerDefinition));
}

/// <summary>Marks the device half of a layer type (its generic type definition, e.g. <c>typeof(Linear&lt;&gt;)</c>); the half's constructor takes (layer, context).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
internal sealed class DeviceHalfAttribute(Type layer) : Attribute
{
    public Type Layer { get; } = layer;
}

/// <summary>A host parameter's place in the network's flat device buffers: its values and its gradient.</summary>
internal sealed class DeviceParameter<T>(ArrayView<T> value, ArrayView<T> gradient) where T : unmanaged, IFloatingPointIeee754<T>
{
    public ArrayView<T> Value { get; } = value;

    public ArrayView<T> Gradient { get; } = gradient;
}

/// <summary>What device halves are built with: the device, its primitives, and the device view of each host parameter.</summary>
internal sealed class DeviceContext<T>(GpuDevice device, IReadOnlyDictionary<Parameter<T>, DeviceParameter<T>> parameters) : IDisposable
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly List<IDisposable> _owned = [];

    public GpuDevice Device { get; } = device;

    public Primitives<T> Primitives { get; } = device.Primitives<T>();

    /// <summary>The device view of <paramref name="parameter"/>.</summary>
    public DeviceParameter<T> Parameter(Parameter<T> parameter) => parameters[parameter];

    /// <summary>Keeps <paramref name="resource"/> until the network leaves the device.</summary>
    public TResource Track<TResource>(TResource resource) where TResource : IDisposable
    {
        _owned.Add(resource);
        return resource;
    }

    public void Dispose()
    {
        foreach (var resource in _owned) resource.Dispose();
        _owned.Clear();
    }
}
