using System.Numerics;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ScratchNet.Gpu.Kernels;

namespace ScratchNet.Gpu.Backends;

/// <summary>
/// The backend operations as GPU kernels (<see cref="Kernels"/>), compiled by ILGPU from C# to PTX when the
/// backend starts and queued on one stream. <see cref="CreateCuda"/> runs them on an NVIDIA GPU through the
/// driver alone; <see cref="CreateCpuSimulator"/> runs the very same kernels on ILGPU's CPU accelerator with
/// 32-lane warps, which is how machines without a GPU (CI) test them.
/// </summary>
public sealed class IlgpuBackend : IBackend
{
    private readonly Context _context;
    private readonly Accelerator _accelerator;
    private readonly int _elementGroup, _gradientGroup, _reductionGroup;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int> _forward;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int> _inputGradient;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, float, float> _sgdStep;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, float, float, int> _sgdStepTiled;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int, int> _forwardTiled;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int> _finishForward;
    private readonly int _tileSide, _fillGroups;
    // The tiled forward pass's partial sums (slices × rows × outputs), grown as needed.
    private MemoryBuffer1D<float, Stride1D.Dense>? _partial;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int, int> _gather;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, float, int> _crossEntropy;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, float, int> _squaredError;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<double>, long, int, int> _accumulate;
    // Kernels take a view for every buffer argument, used or not; this one stands in for absent gradients.
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _empty;

    private IlgpuBackend(Context context, Accelerator accelerator, string name)
    {
        _context = context;
        _accelerator = accelerator;
        Name = name;
        // Groups as large as the kernels use them (256 threads, 1024 for the input gradient), or as the device allows.
        int maxGroup = accelerator.MaxNumThreadsPerGroup;
        _elementGroup = Math.Min(256, maxGroup) / accelerator.WarpSize * accelerator.WarpSize;
        _gradientGroup = Math.Min(LinearKernels.MaxGradientGroup, maxGroup) / accelerator.WarpSize * accelerator.WarpSize;
        _reductionGroup = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Min(ReductionKernels.MaxGroupSize, maxGroup) + 1) / 2;
        if (_elementGroup == 0 || _gradientGroup == 0)
            throw new DeviceException($"{name}: groups of at most {maxGroup} threads with warps of {accelerator.WarpSize} are too small for the kernels.");
        _forward = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int>(LinearKernels.Forward);
        _inputGradient = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int>(LinearKernels.InputGradient);
        _sgdStep = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, float, float>(LinearKernels.SgdStep);
        _sgdStepTiled = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, float, float, int>(LinearKernels.SgdStepTiled);
        _tileSide = (int)Math.Sqrt(Math.Min(LinearKernels.MaxTiledGroup, maxGroup));
        _forwardTiled = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int, int>(LinearKernels.ForwardTiledPartial);
        _finishForward = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int>(LinearKernels.FinishForward);
        // Two groups per multiprocessor keep every one busy while another waits on memory.
        _fillGroups = 2 * Math.Max(1, accelerator.NumMultiprocessors);
        _gather = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int, int>(LinearKernels.GatherBatch);
        _crossEntropy = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, float, int>(LossKernels.SoftmaxCrossEntropy);
        _squaredError = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, float, int>(LossKernels.SquaredError);
        _accumulate = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<double>, long, int, int>(ReductionKernels.Accumulate);
        _empty = accelerator.Allocate1D<float>(1);
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>Threads per warp of the device (32 on NVIDIA GPUs and on the CPU simulator).</summary>
    public int WarpSize => _accelerator.WarpSize;

    /// <summary>
    /// The backend on CUDA device <paramref name="deviceIndex"/>.
    /// </summary>
    /// <exception cref="DeviceException">No usable CUDA device (no NVIDIA driver, no GPU, or ILGPU cannot target it); the message says which.</exception>
    public static IlgpuBackend CreateCuda(int deviceIndex = 0)
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
            return new IlgpuBackend(context, accelerator, name);
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
    /// The backend on ILGPU's CPU accelerator: the GPU kernels, run on the host. The simulator gives every
    /// thread of a group its own OS thread and makes each shuffle and barrier a rendezvous of those threads,
    /// which costs milliseconds with 32-lane warps on a small machine; so it simulates 4-lane warps, 4 per
    /// group. The kernels read the warp and group sizes at run time, so the same code paths (shuffle
    /// reductions, warp slices, partial groups) run as on a GPU, over narrower warps.
    /// </summary>
    public static IlgpuBackend CreateCpuSimulator()
    {
        var device = new CPUDevice(numThreadsPerWarp: 4, numWarpsPerMultiprocessor: 4, numMultiprocessors: 1);
        var context = Context.Create(builder => builder.CPU(device).EnableAlgorithms());
        return new IlgpuBackend(context, device.CreateCPUAccelerator(context, CPUAcceleratorMode.Parallel), "ilgpu-cpu (GPU kernels simulated on the CPU)");
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

    /// <inheritdoc />
    public DeviceBuffer<T> Allocate<T>(long length) where T : unmanaged => new GpuBuffer<T>(_accelerator.Allocate1D<T>(Math.Max(1, length)), length);

    /// <inheritdoc />
    public void Upload<T>(ReadOnlySpan<T> source, DeviceBuffer<T> target, long offset = 0) where T : unmanaged
    {
        if (source.IsEmpty) return;
        View(target).SubView(offset, source.Length).CopyFromCPU(source);
    }

    /// <inheritdoc />
    public void Download<T>(DeviceBuffer<T> source, Span<T> target, long offset = 0) where T : unmanaged
    {
        if (target.IsEmpty) return;
        _accelerator.Synchronize();
        View(source).SubView(offset, target.Length).CopyToCPU(target);
    }

    /// <inheritdoc />
    public void Fill(DeviceBuffer<double> buffer, double value)
    {
        var values = new double[buffer.Length];
        values.AsSpan().Fill(value);
        Upload<double>(values, buffer);
    }

    /// <inheritdoc />
    public void GatherBatch(DeviceBuffer<float> allX, int features, DeviceBuffer<float> allY, int targets,
                            DeviceBuffer<int> order, int first, int rows, DeviceBuffer<float> x, DeviceBuffer<float> y)
    {
        if (rows == 0) return;
        _gather(rows * Math.Max(features, targets), View(allX), View(allY), View(order), View(x), View(y), first, features, targets);
    }

    /// <summary>Null: batches of <see cref="TiledStepMinRows"/> rows or more take the tiled forward pass; else forced (for the bench).</summary>
    internal bool? TiledForward { get; set; }

    /// <inheritdoc />
    public void LinearForward(DeviceBuffer<float> x, int rows, int inputs, DeviceBuffer<float> weight, DeviceBuffer<float> bias,
                              int outputs, DeviceActivation activation, DeviceBuffer<float> output)
    {
        if (rows == 0) return;
        if (TiledForward ?? rows >= TiledStepMinRows)
        {
            int tile = 4 * _tileSide;
            int blocks = ((rows + tile - 1) / tile) * ((outputs + tile - 1) / tile);
            // Split k until the GPU has enough groups, keeping at least four staged chunks per slice.
            int slices = Math.Clamp((_fillGroups + blocks - 1) / blocks, 1, Math.Max(1, inputs / (4 * _tileSide)));
            int sliceLength = ((inputs + slices - 1) / slices + _tileSide - 1) / _tileSide * _tileSide;
            slices = (inputs + sliceLength - 1) / sliceLength;
            long needed = (long)slices * rows * outputs;
            if (_partial is null || _partial.Length < needed)
            {
                // Kernels queued earlier may still read the old buffer.
                _accelerator.Synchronize();
                _partial?.Dispose();
                _partial = _accelerator.Allocate1D<float>(needed);
            }
            _forwardTiled(new KernelConfig(checked(blocks * slices), _tileSide * _tileSide), View(x), View(weight), _partial.View,
                          rows, inputs, outputs, sliceLength, _tileSide);
            _finishForward(checked(rows * outputs), _partial.View, View(bias), View(output), rows, outputs, slices, (int)activation);
            return;
        }
        long warps = (long)outputs * ((rows + LinearKernels.RowsPerWarp - 1) / LinearKernels.RowsPerWarp);
        _forward(Groups(warps * WarpSize, _elementGroup), View(x), View(weight), View(bias), View(output), rows, inputs, outputs, (int)activation);
    }

    /// <inheritdoc />
    public void LinearInputGradient(DeviceBuffer<float> outputGradient, int rows, int outputs, DeviceBuffer<float> weight, int inputs,
                                    DeviceActivation inputActivation, DeviceBuffer<float> input, DeviceBuffer<float> inputGradient)
    {
        if (rows == 0) return;
        int columnBlocks = (inputs + WarpSize - 1) / WarpSize;
        _inputGradient(new KernelConfig(checked(columnBlocks * rows), _gradientGroup),
                       View(outputGradient), View(weight), View(input), View(inputGradient), rows, inputs, outputs, (int)inputActivation);
    }

    /// <summary>
    /// Batches of at least this many rows step with <see cref="LinearKernels.SgdStepTiled"/>; smaller ones stream W
    /// once with one thread per weight. Null: decide by rows (the bench sets it to compare the two).
    /// </summary>
    internal bool? TiledStep { get; set; }

    /// <summary>The batch size from which <see cref="LinearSgdStep"/> uses the register-tiled kernel.</summary>
    public const int TiledStepMinRows = 16;

    /// <inheritdoc />
    public void LinearSgdStep(DeviceBuffer<float> outputGradient, DeviceBuffer<float> input, int rows, int outputs, int inputs,
                              DeviceBuffer<float> weight, DeviceBuffer<float> bias, float learningRate, float keep)
    {
        if (TiledStep ?? rows >= TiledStepMinRows)
        {
            int tile = 4 * _tileSide;
            int groups = checked(((outputs + tile - 1) / tile) * ((inputs + tile - 1) / tile));
            _sgdStepTiled(new KernelConfig(groups, _tileSide * _tileSide), View(outputGradient), View(input), View(weight), View(bias),
                          rows, inputs, outputs, learningRate, keep, _tileSide);
        }
        else
        {
            _sgdStep(checked(outputs * inputs), View(outputGradient), View(input), View(weight), View(bias), rows, inputs, outputs, learningRate, keep);
        }
    }

    /// <inheritdoc />
    public void SoftmaxCrossEntropy(DeviceBuffer<float> logits, DeviceBuffer<float> targets, int rows, int cols, DeviceActivation logitActivation,
                                    float gradientScale, DeviceBuffer<float>? logitGradient, DeviceBuffer<float> rowLoss, DeviceBuffer<float> rowCorrect)
    {
        if (rows == 0) return;
        _crossEntropy(Groups((long)rows * WarpSize, _elementGroup), View(logits), View(targets), GradientView(logitGradient),
                      View(rowLoss), View(rowCorrect), rows, cols, (int)logitActivation, gradientScale, logitGradient is null ? 0 : 1);
    }

    /// <inheritdoc />
    public void SquaredError(DeviceBuffer<float> output, DeviceBuffer<float> targets, int rows, int cols, DeviceActivation outputActivation,
                             float gradientScale, DeviceBuffer<float>? gradient, DeviceBuffer<float> rowLoss, DeviceBuffer<float> rowCorrect)
    {
        if (rows == 0) return;
        _squaredError(Groups((long)rows * WarpSize, _elementGroup), View(output), View(targets), GradientView(gradient),
                      View(rowLoss), View(rowCorrect), rows, cols, (int)outputActivation, gradientScale, gradient is null ? 0 : 1);
    }

    /// <inheritdoc />
    public void AccumulateSum(DeviceBuffer<float> values, long count, DeviceBuffer<double> sums, int slot) =>
        _accumulate(new KernelConfig(1, _reductionGroup), View(values), View(sums), count, slot, 0);

    /// <inheritdoc />
    public void AccumulateSquares(DeviceBuffer<float> values, long count, DeviceBuffer<double> sums, int slot) =>
        _accumulate(new KernelConfig(1, _reductionGroup), View(values), View(sums), count, slot, 1);

    /// <inheritdoc />
    public void Synchronize() => _accelerator.Synchronize();

    /// <inheritdoc />
    public void Dispose()
    {
        _empty.Dispose();
        _partial?.Dispose();
        _accelerator.Dispose();
        _context.Dispose();
    }

    private static KernelConfig Groups(long threads, int groupSize) =>
        new(checked((int)((threads + groupSize - 1) / groupSize)), groupSize);

    private ArrayView<float> GradientView(DeviceBuffer<float>? buffer) => buffer is null ? _empty.View : View(buffer);

    private static ArrayView<T> View<T>(DeviceBuffer<T> buffer) where T : unmanaged =>
        buffer is GpuBuffer<T> gpu ? gpu.Memory.View : throw new ArgumentException($"The buffer belongs to another backend ({buffer.GetType().Name}).");

    private sealed class GpuBuffer<T>(MemoryBuffer1D<T, Stride1D.Dense> memory, long length) : DeviceBuffer<T> where T : unmanaged
    {
        public MemoryBuffer1D<T, Stride1D.Dense> Memory { get; } = memory;

        public override long Length { get; } = length;

        public override void Dispose() => Memory.Dispose();
    }
}

/// <summary>A GPU could not be used or failed; the message names the device and the cause.</summary>
public sealed class DeviceException(string message, Exception? inner = null) : ScratchNetException(message, inner);
