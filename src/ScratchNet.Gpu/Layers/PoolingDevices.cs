using System.Numerics;
using ILGPU;
using ILGPU.Runtime;
using ScratchNet.Layers;

namespace ScratchNet.Gpu.Layers;

/// <summary>The windows of a pooling layer as its kernels read them (floor mode; window (oh, ow) starts at (oh·SH − PH, ow·SW − PW)).</summary>
internal readonly struct PoolShape(Shape input, Shape output, (int Height, int Width) kernel, (int Height, int Width) stride, (int Height, int Width) padding)
{
    public readonly int Channels = input[0], Height = input[1], Width = input[2], OutHeight = output[1], OutWidth = output[2];
    public readonly int KernelHeight = kernel.Height, KernelWidth = kernel.Width, StrideHeight = stride.Height, StrideWidth = stride.Width;
    public readonly int PadHeight = padding.Height, PadWidth = padding.Width;

    /// <summary>The first output row (column) whose window holds input row (column) i: ⌈(i + pad − kernel + 1) / stride⌉, at least 0.</summary>
    public static int FirstWindow(int i, int pad, int kernel, int stride)
    {
        int reach = i + pad - kernel + 1;
        return reach <= 0 ? 0 : (reach + stride - 1) / stride;
    }

    /// <summary>The last output row (column) whose window holds input row (column) i: ⌊(i + pad) / stride⌋, at most count − 1.</summary>
    public static int LastWindow(int i, int pad, int stride, int count)
    {
        int last = (i + pad) / stride;
        return last < count - 1 ? last : count - 1;
    }
}

/// <summary>
/// <see cref="MaxPool2d{T}"/> on the device: one thread per output finds its window's winner (the host's rule: the first
/// in row-major order, NaN winning); backward one thread per input sums, in output order, the gradients of the windows
/// it won — no atomics, and the host's order of additions.
/// </summary>
[DeviceHalf(typeof(MaxPool2d<>))]
internal sealed class MaxPool2dDevice<T> : DeviceLayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly PoolShape _shape;
    private readonly int _inputSize, _outputSize;
    private readonly DeviceMatrix<T> _output, _inputGradient;
    private MemoryBuffer1D<int, Stride1D.Dense>? _winners;   // (B, C·OH·OW): the winning input's index within its sample
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<int>, PoolShape> _forward;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<int>, ArrayView<T>, PoolShape> _backward;

    public MaxPool2dDevice(MaxPool2d<T> layer, DeviceContext<T> context) : base(context)
    {
        _shape = new PoolShape(layer.InputShape, layer.OutputShape, layer.KernelSize, layer.Stride, layer.Padding);
        (_inputSize, _outputSize) = (layer.InputSize, layer.OutputSize);
        _output = NewMatrix(_outputSize);
        _inputGradient = NewMatrix(_inputSize);
        _forward = context.Device.Kernel("maxpool2d.forward", a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<int>, PoolShape>(Forward));
        _backward = context.Device.Kernel("maxpool2d.backward", a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<int>, ArrayView<T>, PoolShape>(Backward));
    }

    public override DeviceMatrix<T> Forward(DeviceMatrix<T> input)
    {
        int batch = input.Rows;
        _output.SetRows(batch);
        long needed = Math.Max(1, _output.Length);
        if (_winners is null || _winners.Length < needed)
        {
            Context.Device.Synchronize();   // a queued backward may still read the old buffer
            _winners?.Dispose();
            _winners = Context.Device.Allocate<int>(needed);
        }
        if (_output.Length > 0) _forward(checked((int)_output.Length), input.View, _output.View, _winners.View, _shape);
        return _output;
    }

    public override DeviceMatrix<T> Backward(DeviceMatrix<T> outputGradient)
    {
        _inputGradient.SetRows(outputGradient.Rows);
        if (_inputGradient.Length > 0) _backward(checked((int)_inputGradient.Length), outputGradient.View, _winners!.View, _inputGradient.View, _shape);
        return _inputGradient;
    }

    public override void Dispose() => _winners?.Dispose();

    private static void Forward(Index1D e, ArrayView<T> x, ArrayView<T> y, ArrayView<int> winners, PoolShape s)
    {
        int ow = e % s.OutWidth, rest = e / s.OutWidth;
        int oh = rest % s.OutHeight;
        rest /= s.OutHeight;
        int c = rest % s.Channels, n = rest / s.Channels;
        int h0 = oh * s.StrideHeight - s.PadHeight, w0 = ow * s.StrideWidth - s.PadWidth;
        int h1 = h0 + s.KernelHeight < s.Height ? h0 + s.KernelHeight : s.Height, w1 = w0 + s.KernelWidth < s.Width ? w0 + s.KernelWidth : s.Width;
        if (h0 < 0) h0 = 0;
        if (w0 < 0) w0 = 0;
        long sample = (long)n * s.Channels * s.Height * s.Width;
        T best = T.Zero;
        int at = -1;
        for (int ih = h0; ih < h1; ih++)
            for (int iw = w0; iw < w1; iw++)
            {
                int i = (c * s.Height + ih) * s.Width + iw;
                T v = x[sample + i];
                if (at < 0 || v > best || (T.IsNaN(v) && !T.IsNaN(best)))
                {
                    best = v;
                    at = i;
                }
            }
        y[e] = best;
        winners[e] = at;
    }

    private static void Backward(Index1D e, ArrayView<T> dy, ArrayView<int> winners, ArrayView<T> dx, PoolShape s)
    {
        int iw = e % s.Width, rest = e / s.Width;
        int ih = rest % s.Height;
        rest /= s.Height;
        int c = rest % s.Channels, n = rest / s.Channels;
        int i = (c * s.Height + ih) * s.Width + iw;
        long outputs = (long)n * s.Channels * s.OutHeight * s.OutWidth;
        int lastRow = PoolShape.LastWindow(ih, s.PadHeight, s.StrideHeight, s.OutHeight), lastColumn = PoolShape.LastWindow(iw, s.PadWidth, s.StrideWidth, s.OutWidth);
        int firstColumn = PoolShape.FirstWindow(iw, s.PadWidth, s.KernelWidth, s.StrideWidth);
        T sum = T.Zero;
        for (int oh = PoolShape.FirstWindow(ih, s.PadHeight, s.KernelHeight, s.StrideHeight); oh <= lastRow; oh++)
            for (int ow = firstColumn; ow <= lastColumn; ow++)
            {
                long o = outputs + (c * s.OutHeight + oh) * s.OutWidth + ow;
                if (winners[o] == i) sum += dy[o];
            }
        dx[e] = sum;
    }
}

/// <summary>
/// <see cref="AvgPool2d{T}"/> on the device: one thread per output sums its window; backward one thread per input sums
/// dy/divisor over the windows that hold it, in output order. The divisors (KH·KW, or the window's positions inside the
/// image) are computed on the host once, per output position: kernels cannot convert integers to a generic T.
/// </summary>
[DeviceHalf(typeof(AvgPool2d<>))]
internal sealed class AvgPool2dDevice<T> : DeviceLayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly PoolShape _shape;
    private readonly MemoryBuffer1D<T, Stride1D.Dense> _divisors;   // (OH·OW)
    private readonly DeviceMatrix<T> _output, _inputGradient;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, PoolShape> _forward, _backward;

    public AvgPool2dDevice(AvgPool2d<T> layer, DeviceContext<T> context) : base(context)
    {
        var s = _shape = new PoolShape(layer.InputShape, layer.OutputShape, layer.KernelSize, layer.Stride, layer.Padding);
        var divisors = new T[s.OutHeight * s.OutWidth];
        for (int oh = 0; oh < s.OutHeight; oh++)
            for (int ow = 0; ow < s.OutWidth; ow++)
            {
                int h0 = oh * s.StrideHeight - s.PadHeight, w0 = ow * s.StrideWidth - s.PadWidth;
                int rows = Math.Min(h0 + s.KernelHeight, s.Height) - Math.Max(h0, 0), columns = Math.Min(w0 + s.KernelWidth, s.Width) - Math.Max(w0, 0);
                divisors[oh * s.OutWidth + ow] = T.CreateTruncating(layer.CountIncludePad ? s.KernelHeight * s.KernelWidth : rows * columns);
            }
        _divisors = context.Track(context.Device.Allocate<T>(divisors.Length));
        _divisors.View.BaseView.CopyFromCPU(divisors);
        _output = NewMatrix(layer.OutputSize);
        _inputGradient = NewMatrix(layer.InputSize);
        _forward = context.Device.Kernel("avgpool2d.forward", a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, PoolShape>(Forward));
        _backward = context.Device.Kernel("avgpool2d.backward", a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, PoolShape>(Backward));
    }

    public override DeviceMatrix<T> Forward(DeviceMatrix<T> input)
    {
        _output.SetRows(input.Rows);
        if (_output.Length > 0) _forward(checked((int)_output.Length), input.View, _divisors.View, _output.View, _shape);
        return _output;
    }

    public override DeviceMatrix<T> Backward(DeviceMatrix<T> outputGradient)
    {
        _inputGradient.SetRows(outputGradient.Rows);
        if (_inputGradient.Length > 0) _backward(checked((int)_inputGradient.Length), outputGradient.View, _divisors.View, _inputGradient.View, _shape);
        return _inputGradient;
    }

    private static void Forward(Index1D e, ArrayView<T> x, ArrayView<T> divisors, ArrayView<T> y, PoolShape s)
    {
        int ow = e % s.OutWidth, rest = e / s.OutWidth;
        int oh = rest % s.OutHeight;
        rest /= s.OutHeight;
        int c = rest % s.Channels, n = rest / s.Channels;
        int h0 = oh * s.StrideHeight - s.PadHeight, w0 = ow * s.StrideWidth - s.PadWidth;
        int h1 = h0 + s.KernelHeight < s.Height ? h0 + s.KernelHeight : s.Height, w1 = w0 + s.KernelWidth < s.Width ? w0 + s.KernelWidth : s.Width;
        if (h0 < 0) h0 = 0;
        if (w0 < 0) w0 = 0;
        long plane = ((long)n * s.Channels + c) * s.Height * s.Width;
        T sum = T.Zero;
        for (int ih = h0; ih < h1; ih++)
            for (int iw = w0; iw < w1; iw++) sum += x[plane + ih * s.Width + iw];
        y[e] = sum / divisors[oh * s.OutWidth + ow];
    }

    private static void Backward(Index1D e, ArrayView<T> dy, ArrayView<T> divisors, ArrayView<T> dx, PoolShape s)
    {
        int iw = e % s.Width, rest = e / s.Width;
        int ih = rest % s.Height;
        rest /= s.Height;
        int c = rest % s.Channels, n = rest / s.Channels;
        long outputs = ((long)n * s.Channels + c) * s.OutHeight * s.OutWidth;
        int lastRow = PoolShape.LastWindow(ih, s.PadHeight, s.StrideHeight, s.OutHeight), lastColumn = PoolShape.LastWindow(iw, s.PadWidth, s.StrideWidth, s.OutWidth);
        int firstColumn = PoolShape.FirstWindow(iw, s.PadWidth, s.KernelWidth, s.StrideWidth);
        T sum = T.Zero;
        for (int oh = PoolShape.FirstWindow(ih, s.PadHeight, s.KernelHeight, s.StrideHeight); oh <= lastRow; oh++)
            for (int ow = firstColumn; ow <= lastColumn; ow++)
            {
                int p = oh * s.OutWidth + ow;
                sum += dy[outputs + p] / divisors[p];
            }
        dx[e] = sum;
    }
}

/// <summary><see cref="GlobalAvgPool2d{T}"/> on the device: one thread per (sample, channel) sums its plane; dx = dy / (H·W) everywhere.</summary>
[DeviceHalf(typeof(GlobalAvgPool2d<>))]
internal sealed class GlobalAvgPool2dDevice<T> : DeviceLayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly int _plane;
    private readonly T _count;
    private readonly DeviceMatrix<T> _output, _inputGradient;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, int, T> _forward, _backward;

    public GlobalAvgPool2dDevice(GlobalAvgPool2d<T> layer, DeviceContext<T> context) : base(context)
    {
        _plane = layer.InputShape[1] * layer.InputShape[2];
        _count = T.CreateTruncating(_plane);
        _output = NewMatrix(layer.OutputSize);
        _inputGradient = NewMatrix(layer.InputSize);
        _forward = context.Device.Kernel("global-avgpool2d.forward", a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, int, T>(Forward));
        _backward = context.Device.Kernel("global-avgpool2d.backward", a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, int, T>(Backward));
    }

    public override DeviceMatrix<T> Forward(DeviceMatrix<T> input)
    {
        _output.SetRows(input.Rows);
        if (_output.Length > 0) _forward(checked((int)_output.Length), input.View, _output.View, _plane, _count);
        return _output;
    }

    public override DeviceMatrix<T> Backward(DeviceMatrix<T> outputGradient)
    {
        _inputGradient.SetRows(outputGradient.Rows);
        if (_inputGradient.Length > 0) _backward(checked((int)_inputGradient.Length), outputGradient.View, _inputGradient.View, _plane, _count);
        return _inputGradient;
    }

    // y[n, c] = Σ_p x[n, c, p] / (H·W): element e of y is plane e of x.
    private static void Forward(Index1D e, ArrayView<T> x, ArrayView<T> y, int plane, T count)
    {
        long start = (long)e.X * plane;
        T sum = T.Zero;
        for (int p = 0; p < plane; p++) sum += x[start + p];
        y[e] = sum / count;
    }

    private static void Backward(Index1D e, ArrayView<T> dy, ArrayView<T> dx, int plane, T count) => dx[e] = dy[e / plane] / count;
}

/// <summary><see cref="Flatten{T}"/> on the device: the storage is the same under both shapes, so both passes return what they are given.</summary>
[DeviceHalf(typeof(Flatten<>))]
internal sealed class FlattenDevice<T>(Flatten<T> layer, DeviceContext<T> context) : DeviceLayer<T>(context) where T : unmanaged, IFloatingPointIeee754<T>
{
    public override DeviceMatrix<T> Forward(DeviceMatrix<T> input) => input.Cols == layer.OutputSize ? input : throw new ShapeMismatchException($"{layer}: {input.Cols} columns in, {layer.OutputSize} expected.");

    public override DeviceMatrix<T> Backward(DeviceMatrix<T> outputGradient) => outputGradient;
}
