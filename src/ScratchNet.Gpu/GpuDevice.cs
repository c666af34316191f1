using System.Collections.Concurrent;
using System.Numerics;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ScratchNet.Gpu.Kernels;

namespace ScratchNet.Gpu;

/// <summary>
/// A GPU that networks move to (<see cref="NetworkPlacement.MoveTo{T}"/>): ILGPU compiles the C# kernels of
/// <see cref="Kernels"/> and of the layers' device halves to PTX when they are first used and queues them on one
/// stream. <see cref="CreateCuda"/> runs them on an NVIDIA GPU through the driver alone; <see cref="CreateCpuSimulator"/>
/// runs the very same kernels on ILGPU's CPU accelerator, which is how machines without a GPU (CI) test them.
/// </summary>
public sealed class GpuDevice : IDisposable
{
    private readonly Context _context;
    private readonly ConcurrentDictionary<(Type, string), object> _kernels = new();
    private readonly ConcurrentDictionary<Type, object> _primitives = new();

    private GpuDevice(Context context, Accelerator accelerator, string name)
    {
        _context = context;
        Accelerator = accelerator;
        Name = name;
    }

    /// <summary>What runs the kernels, for messages: e.g. "cuda:0 NVIDIA H200 (sm_90, 139 GiB, …)".</summary>
    public string Name { get; }

    /// <summary>The ILGPU accelerator the kernels run on.</summary>
    internal Accelerator Accelerator { get; }

    /// <summary>
    /// The device <paramref name="deviceIndex"/> of CUDA.
    /// </summary>
    /// <exception cref="DeviceException">No usable CUDA device (no NVIDIA driver, no GPU, or ILGPU cannot target it); the message says which.</exception>
    public static GpuDevice CreateCuda(int deviceIndex = 0)
    {
        Context? context = null;
        try
        {
            context = Context.Create(builder => builder.Cuda().EnableAlgorithms());
            var devices = context.GetCudaDevices();
            if (devices.Count == 0)
                throw new DeviceException("No CUDA device: the NVIDIA driver (libcuda) is missing or sees no GPU.");
            if ((uint)deviceIndex >= (uint)devices.Count)
                throw new DeviceException($"CUDA device {deviceIndex} does not exist; there are {devices.Count} (0..{devices.Count - 1}).");
            var device = devices[deviceIndex];
            var accelerator = device.CreateCudaAccelerator(context);
            string name = $"cuda:{deviceIndex} {device.Name} (sm_{device.Architecture?.Major}{device.Architecture?.Minor}, " +
                          $"{device.MemorySize / (1L << 30)} GiB, driver {device.DriverVersion.Major}.{device.DriverVersion.Minor}, PTX ISA {accelerator.InstructionSet})";
            return new GpuDevice(context, accelerator, name);
        }
        catch (Exception e) when (e is not DeviceException)
        {
            context?.Dispose();
            throw new DeviceException($"CUDA is not usable: {e.GetType().Name}: {e.Message}", e);
        }
        catch
        {
            context?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The GPU kernels on ILGPU's CPU accelerator. It gives every thread of a group its own OS thread, so the kernels
    /// here avoid barriers and shuffles (one thread per element, row or column, in a fixed order): what the CPU
    /// runs is what a GPU runs, bit for bit up to the device's exp and tanh.
    /// </summary>
    public static GpuDevice CreateCpuSimulator()
    {
        var device = new CPUDevice(numThreadsPerWarp: 4, numWarpsPerMultiprocessor: 4, numMultiprocessors: 1);
        var context = Context.Create(builder => builder.CPU(device).EnableAlgorithms());
        return new GpuDevice(context, device.CreateCPUAccelerator(context, CPUAcceleratorMode.Parallel), "ilgpu-cpu (GPU kernels simulated on the CPU)");
    }

    /// <summary>The CUDA devices the driver reports, as lines for <c>scratchnet info</c>; empty when there is no usable driver.</summary>
    public static IReadOnlyList<string> DescribeCudaDevices()
    {
        try
        {
            using var context = Context.Create(builder => builder.Cuda());
            var lines = new List<string>();
            int i = 0;
            foreach (var d in context.GetCudaDevices())
                lines.Add(
                    $"cuda:{i++} {d.Name}: compute capability {d.Architecture?.Major}.{d.Architecture?.Minor}, {d.MemorySize / (1L << 30)} GiB, " +
                    $"{d.NumMultiprocessors} multiprocessors, driver {d.DriverVersion.Major}.{d.DriverVersion.Minor}");
            return lines;
        }
        catch (Exception)
        {
            // No libcuda, or a driver that ILGPU cannot talk to: there is no CUDA device to list.
            return [];
        }
    }

    /// <summary>A buffer of <paramref name="length"/> elements (at least one), zeroed.</summary>
    internal MemoryBuffer1D<T, Stride1D.Dense> Allocate<T>(long length) where T : unmanaged
    {
        var buffer = Accelerator.Allocate1D<T>(Math.Max(1, length));
        buffer.MemSetToZero();
        return buffer;
    }

    /// <summary>The primitives (GEMM, element-wise operators, row and column reductions) for elements of type <typeparamref name="T"/>.</summary>
    internal Primitives<T> Primitives<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
        (Primitives<T>)_primitives.GetOrAdd(typeof(T), _ => new Primitives<T>(this));

    /// <summary>
    /// A kernel compiled once per device and element type: a device half loads its own kernels through this, so
    /// a layer with a kernel of its own touches only its own files.
    /// </summary>
    internal TDelegate Kernel<TDelegate>(string name, Func<Accelerator, TDelegate> load) where TDelegate : Delegate =>
        (TDelegate)_kernels.GetOrAdd((typeof(TDelegate), name), _ => load(Accelerator));

    /// <summary>Waits until everything queued has run.</summary>
    public void Synchronize() => Accelerator.Synchronize();

    /// <inheritdoc />
    public void Dispose()
    {
        Accelerator.Dispose();
        _context.Dispose();
    }
}

/// <summary>No usable GPU, or a network or setting the device path does not run; the message says which.</summary>
public sealed class DeviceException(string message, Exception? inner = null) : ScratchNetException(message, inner);
