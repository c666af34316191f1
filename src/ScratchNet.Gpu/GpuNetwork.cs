using System.Numerics;
using ILGPU;
using ILGPU.Runtime;
using ScratchNet.Devices;
using ScratchNet.Gpu.Kernels;
using ScratchNet.Gpu.Layers;
using ScratchNet.Gpu.Optimizers;
using ScratchNet.Layers;
using ScratchNet.Losses;
using ScratchNet.Optimizers;

namespace ScratchNet.Gpu;

/// <summary>
/// A <see cref="Network{T}"/> on a <see cref="GpuDevice"/>: each layer's device half, the loss, the L2 penalty and the
/// optimiser's device half, over parameters kept on the device in one flat buffer of values and one of gradients.
/// A step waits for the device once, for its loss (the trainer's per-batch divergence guard reads it).
/// </summary>
internal sealed class GpuNetwork<T> : NetworkDevice<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    // Slots of the sums the device adds into and the host reads once per call.
    private const int LossSlot = 0, CorrectSlot = 1, WeightSquaresSlot = 2, GradientSquaresSlot = 3, SlotCount = 4;

    private readonly Network<T> _network;
    private readonly GpuDevice _device;
    private readonly Primitives<T> _run;
    private readonly DeviceContext<T> _context;
    private readonly ParameterBuffers<T> _buffers;
    private readonly DeviceLayer<T>[] _layers;
    private readonly int[] _regularized;   // indices of the parameters under the L2 penalty
    private readonly DeviceMatrix<T> _x, _y, _lossGradient, _rowLoss, _rowCorrect;
    private readonly MemoryBuffer1D<T, Stride1D.Dense> _sums;
    private readonly T[] _hostSums = new T[SlotCount];
    private readonly MemoryBuffer1D<T, Stride1D.Dense> _queue;   // per queued step: its loss and Σ g²
    private readonly T[] _hostQueue = new T[2 * QueueCapacity];
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, int, T, T> _recordStep;
    private int _queued;
    private DeviceOptimizer<T>? _optimizer;
    private IOptimizer<T>? _optimizerOf;   // the host optimiser _optimizer was made for

    public GpuNetwork(Network<T> network, GpuDevice device)
    {
        network.Build();
        _network = network;
        _device = device;
        _run = device.Primitives<T>();
        var parameters = network.Parameters;
        (_buffers, _context) = Bind(parameters, device);
        try
        {
            _layers = [.. network.Layers.Select((layer, i) => DeviceLayer<T>.Create(layer, i.ToString(System.Globalization.CultureInfo.InvariantCulture), _context))];
            _regularized = [.. Enumerable.Range(0, parameters.Count).Where(i => parameters[i].Regularized)];
            _x = _context.Track(new DeviceMatrix<T>(device, network.Inputs));
            _y = _context.Track(new DeviceMatrix<T>(device, network.Outputs));
            _lossGradient = _context.Track(new DeviceMatrix<T>(device, network.Outputs));
            _rowLoss = _context.Track(new DeviceMatrix<T>(device, 1));
            _rowCorrect = _context.Track(new DeviceMatrix<T>(device, 1));
            _sums = _context.Track(device.Allocate<T>(SlotCount));
            _queue = _context.Track(device.Allocate<T>(2 * QueueCapacity));
            _recordStep = device.Kernel("record-step", a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, int, T, T>(RecordStep));
            UploadParameters();
            OptimizerHalf();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public override string Name => _device.Name;

    /// <summary>
    /// Lays <paramref name="parameters"/> end to end in one device buffer of values and one of gradients (zeroed, values
    /// not yet uploaded), and the context that gives each device half its parameters' views.
    /// </summary>
    internal static (ParameterBuffers<T> Buffers, DeviceContext<T> Context) Bind(IReadOnlyList<Parameter<T>> parameters, GpuDevice device)
    {
        var offsets = new long[parameters.Count];
        long length = 0;
        for (int i = 0; i < parameters.Count; i++)
        {
            offsets[i] = length;
            length += parameters[i].Value.Length;
        }
        var values = device.Allocate<T>(length);
        var gradients = device.Allocate<T>(length);
        var buffers = new ParameterBuffers<T>(parameters, offsets, values, gradients, length);
        var views = new Dictionary<Parameter<T>, DeviceParameter<T>>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < parameters.Count; i++)
            views[parameters[i]] = new DeviceParameter<T>(buffers.Segment(buffers.Values, i), buffers.Segment(buffers.Gradients, i));
        var context = new DeviceContext<T>(device, views);
        context.Track(values);
        context.Track(gradients);
        return (buffers, context);
    }

    /// <summary>Sends the host's values of the parameters to <paramref name="buffers"/>.</summary>
    internal static void Upload(ParameterBuffers<T> buffers)
    {
        for (int i = 0; i < buffers.Parameters.Count; i++) buffers.Segment(buffers.Values, i).CopyFromCPU(buffers.Parameters[i].Value.Span);
    }

    protected internal override void QueueTrainStep(Matrix<T> x, Matrix<T> y)
    {
        var optimizer = OptimizerHalf();
        BackpropagateWithInputGradient(x, y, out int rows);
        var squares = _sums.View.SubView(GradientSquaresSlot, 1);
        if (optimizer.NeedsGradientSquares) SumGradientSquares(optimizer);
        optimizer.Step(squares);
        _recordStep(1, _sums.View, _queue.View, _queued, T.One / T.CreateChecked(rows), T.CreateChecked(_network.RegularizationFactor));
        _queued++;
    }

    protected internal override int QueuedSteps => _queued;

    protected internal override void TakeQueuedLosses(Span<double> losses)
    {
        if (_queued == 0) return;
        _device.Synchronize();
        _queue.View.BaseView.SubView(0, 2 * _queued).CopyToCPU(_hostQueue.AsSpan(0, 2 * _queued));
        for (int k = 0; k < _queued; k++) losses[k] = double.CreateChecked(_hostQueue[2 * k]);
        _optimizer?.Observe(double.CreateChecked(_hostQueue[2 * _queued - 1]));
        _queued = 0;
    }

    // Σ g² over the gradients into the sums' slot, for clipping; a frozen parameter's gradient zeroed first, as the host leaves it out.
    private void SumGradientSquares(DeviceOptimizer<T> optimizer)
    {
        optimizer.ClearFrozenGradients();
        _run.Sum(_buffers.Gradients, _buffers.Length, squares: true, _sums.View, GradientSquaresSlot);
    }

    // A queued step's loss (mean loss plus penalty) and Σ g², from the step's sums into its queue slot, on the device.
    private static void RecordStep(Index1D thread, ArrayView<T> sums, ArrayView<T> queue, int slot, T inverseRows, T factor)
    {
        if (thread != 0) return;
        queue[2 * slot] = sums[LossSlot] * inverseRows + factor * sums[WeightSquaresSlot];
        queue[2 * slot + 1] = sums[GradientSquaresSlot];
    }

    protected internal override double ComputeGradients(Matrix<T> x, Matrix<T> y, Matrix<T> inputGradient)
    {
        var dx = BackpropagateWithInputGradient(x, y, out int rows);
        ReadSums();
        if (_buffers.Length > 0) _buffers.Gradients.SubView(0, _buffers.Length).CopyToCPU(_network.Gradients.Span);
        dx.Download(inputGradient);
        return LossOfStep(rows);
    }

    // The gradients an accumulation or a reduction across processes summed on the host, back on the device, and the
    // optimiser's step from them; Σ g² for clipping is taken there, and told to the host optimiser as a queued step's is.
    protected internal override void StepFromHostGradients()
    {
        var optimizer = OptimizerHalf();
        if (_buffers.Length > 0) _buffers.Gradients.SubView(0, _buffers.Length).CopyFromCPU(_network.Gradients.Span);
        var squares = _sums.View.SubView(GradientSquaresSlot, 1);
        if (optimizer.NeedsGradientSquares)
        {
            squares.MemSetToZero();
            SumGradientSquares(optimizer);
        }
        optimizer.Step(squares);
        if (optimizer.NeedsGradientSquares)
        {
            ReadSums();
            optimizer.Observe(double.CreateChecked(_hostSums[GradientSquaresSlot]));
        }
    }

    protected internal override void Predict(Matrix<T> x, Matrix<T> output)
    {
        var result = _x.Upload(x);
        foreach (var layer in _layers) result = layer.Forward(result);
        _device.Synchronize();
        result.Download(output);
    }

    protected internal override void BeginEvaluation() => _sums.MemSetToZero();

    protected internal override void Evaluate(Matrix<T> x, Matrix<T> y)
    {
        var output = ForwardToLoss(x, y);
        Loss(output, gradient: null);
        _run.Sum(_rowLoss.View, x.Rows, squares: false, _sums.View, LossSlot);
        _run.Sum(_rowCorrect.View, x.Rows, squares: false, _sums.View, CorrectSlot);
    }

    protected internal override (double LossSum, long Correct) EndEvaluation()
    {
        ReadSums();
        return (double.CreateChecked(_hostSums[LossSlot]), long.CreateChecked(T.Round(_hostSums[CorrectSlot])));
    }

    protected internal override double SquaredRegularizedWeights()
    {
        _sums.MemSetToZero();
        foreach (int i in _regularized) _run.Sum(_buffers.Segment(_buffers.Values, i), _buffers.Parameters[i].Value.Length, squares: true, _sums.View, WeightSquaresSlot);
        ReadSums();
        return double.CreateChecked(_hostSums[WeightSquaresSlot]);
    }

    protected internal override void CopyToHost()
    {
        _device.Synchronize();
        for (int i = 0; i < _buffers.Parameters.Count; i++) _buffers.Segment(_buffers.Values, i).CopyToCPU(_buffers.Parameters[i].Value.Span);
        foreach (var layer in _layers) layer.CopyToHost();
        _optimizer?.CopyToHost();
    }

    protected internal override void CopyFromHost()
    {
        _device.Synchronize();
        UploadParameters();
        foreach (var layer in _layers) layer.CopyFromHost();
        _optimizer?.CopyFromHost();
    }

    public override void Dispose()
    {
        _optimizer?.Dispose();
        if (_layers is not null) foreach (var layer in _layers) layer.Dispose();
        _context.Dispose();
    }

    // The optimiser's device half, made anew when the network's optimiser was replaced.
    private DeviceOptimizer<T> OptimizerHalf()
    {
        if (_optimizer is not null && ReferenceEquals(_optimizerOf, _network.Optimizer)) return _optimizer;
        _optimizer?.Dispose();
        _optimizer = null;
        _optimizer = DeviceOptimizer<T>.Create(_network.Optimizer, _device, _buffers);
        _optimizerOf = _network.Optimizer;
        return _optimizer;
    }

    private void UploadParameters() => Upload(_buffers);

    // Forward, loss and backward of a batch into the zeroed gradients, the L2 gradient 2λ·W added and Σ W² taken
    // before any step; the batch's loss sum in its slot. Returns dL/dx; rows is the batch's.
    private DeviceMatrix<T> BackpropagateWithInputGradient(Matrix<T> x, Matrix<T> y, out int rows)
    {
        rows = x.Rows;
        _sums.MemSetToZero();
        if (_buffers.Length > 0) _buffers.Gradients.SubView(0, _buffers.Length).MemSetToZero();
        var output = ForwardToLoss(x, y);
        Loss(output, _lossGradient.SetRows(rows));
        _run.Sum(_rowLoss.View, rows, squares: false, _sums.View, LossSlot);
        var gradient = _lossGradient;
        for (int i = LossInputLayer - 1; i >= 0; i--) gradient = _layers[i].Backward(gradient);
        if (_network.RegularizationFactor > 0)
        {
            T twiceFactor = T.CreateChecked(2 * _network.RegularizationFactor);
            foreach (int i in _regularized)
            {
                var value = _buffers.Segment(_buffers.Values, i);
                _run.Sum(value, value.Length, squares: true, _sums.View, WeightSquaresSlot);
                _run.Axpy(value, _buffers.Segment(_buffers.Gradients, i), twiceFactor, value.Length);
            }
        }
        return gradient;
    }

    // Cross-entropy takes the logits: the final softmax is fused into the loss.
    private int LossInputLayer => _network.Loss == Losses.Loss.CrossEntropy ? _layers.Length - 1 : _layers.Length;

    private DeviceMatrix<T> ForwardToLoss(Matrix<T> x, Matrix<T> y)
    {
        _y.Upload(y);
        var output = _x.Upload(x);
        for (int i = 0; i < LossInputLayer; i++) output = _layers[i].Forward(output);
        return output;
    }

    private void Loss(DeviceMatrix<T> output, DeviceMatrix<T>? gradient)
    {
        int rows = output.Rows;
        _rowLoss.SetRows(rows);
        _rowCorrect.SetRows(rows);
        if (_network.Loss == Losses.Loss.CrossEntropy)
            _run.SoftmaxCrossEntropy(output, _y, T.One / T.CreateChecked(rows), gradient, _rowLoss, _rowCorrect, _network.LabelSmoothing);
        else
            _run.SquaredError(output, _y, T.CreateChecked(2.0 / rows), gradient, _rowLoss, _rowCorrect);
    }

    private void ReadSums()
    {
        _device.Synchronize();
        _sums.View.CopyToCPU(_hostSums);
    }

    private double LossOfStep(int rows) =>
        double.CreateChecked(_hostSums[LossSlot]) / rows + _network.RegularizationFactor * double.CreateChecked(_hostSums[WeightSquaresSlot]);
}

/// <summary>Moves networks between the host and a <see cref="GpuDevice"/>.</summary>
public static class NetworkPlacement
{
    /// <summary>
    /// Puts <paramref name="network"/> on <paramref name="device"/>: its weights, buffers and optimiser state are copied
    /// there, and from now on its training steps, gradients, predictions and evaluations run there, through the one
    /// <see cref="Training.Trainer{T}"/> as on the CPU. The host's copy is brought up to date whenever the host reads it
    /// (saving, snapshots, checkpoints); <see cref="Network{T}.MoveToHost"/> brings the network back.
    /// </summary>
    /// <exception cref="DeviceException">A layer or the optimiser has no device half; the message names it.</exception>
    public static Network<T> MoveTo<T>(this Network<T> network, GpuDevice device) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(device);
        if (WhyNotOnDevice(network) is { } reason) throw new DeviceException(reason);
        network.FinishDeferredSteps();
        network.MoveToHost();
        network.Place(new GpuNetwork<T>(network, device));
        return network;
    }

    /// <summary>Why <paramref name="network"/> cannot run on a device (a layer or optimiser without a device half), or null when it can.</summary>
    public static string? WhyNotOnDevice<T>(Network<T> network) where T : unmanaged, IFloatingPointIeee754<T>
    {
        network.Build();
        foreach (var (path, layer) in ModuleState.Modules(network.Layers))
            if (!DeviceLayer<T>.HasHalf(layer)) return $"layer {path} {layer} has no device half: it runs on the CPU only";
        if (!DeviceOptimizer<T>.HasHalf(network.Optimizer))
            return $"the optimiser {network.Optimizer.GetType().Name.Split('`')[0]} has no device half: it runs on the CPU only";
        return null;
    }
}
