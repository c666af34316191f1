using System.Numerics;
using ILGPU;
using ILGPU.Runtime;
using ScratchNet.Layers;

namespace ScratchNet.Gpu.Layers;

/// <summary>How much scratch a convolution's device half takes at once.</summary>
internal static class Conv2dChunks
{
    /// <summary>
    /// Elements of a column matrix of one chunk at most (2²⁶, 256 MiB in float32): the batch is cut into chunks of
    /// samples under it. Settable so that tests run the chunked path on small batches.
    /// </summary>
    internal static long MaxElements { get; set; } = 1L << 26;
}

/// <summary>
/// <see cref="Conv2d{T}"/> on the device, as im2col + the primitives' GEMM over a chunk of samples at a time, group by
/// group. A group's column matrix, cols (Patch, count·OH·OW), holds column n·OH·OW + p of sample n; then
/// forward Y' = W_g·cols, dW_g += dY'·colsᵀ and dcols = W_gᵀ·dY', where Y' and dY' are the group's (OC/G, count·OH·OW)
/// channel-major rearrangements of y and dy. col2im gathers each dx element from the columns it was read into,
/// taps in order: every sum has a fixed order (no atomics), so the results are deterministic.
/// </summary>
[DeviceHalf(typeof(Conv2d<>))]
internal sealed class Conv2dDevice<T> : DeviceLayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Conv2d<T> _layer;
    private readonly ConvShape _shape;
    private readonly ArrayView<T> _weight;                       // W, (OC, Patch): the parameter's view, or a frozen W's copy
    private readonly ArrayView<T> _weightGradient;               // dW; unused when W is frozen
    private readonly MemoryBuffer1D<T, Stride1D.Dense>? _frozenWeight;
    private readonly DeviceParameter<T>? _bias;
    private readonly MemoryBuffer1D<T, Stride1D.Dense> _noBias;
    private readonly DeviceMatrix<T> _output, _inputGradient;
    private readonly DeviceMatrix<T> _columns;   // (Patch, count·OH·OW) of one group and chunk; dcols in backward
    private readonly DeviceMatrix<T> _product;   // (OC/G, count·OH·OW): Y' in forward, dY' in backward
    private DeviceMatrix<T>? _input;

    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, ConvShape, int, int, int> _im2col, _col2im;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ConvShape, int, int, int, int> _scatterOutput;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, ConvShape, int, int, int> _gatherGradient;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, int, int, int> _biasGradient;

    public Conv2dDevice(Conv2d<T> layer, DeviceContext<T> context) : base(context)
    {
        var input = layer.InputShape;
        var output = layer.OutputShape;
        _shape = new ConvShape(input[0], input[1], input[2], layer.OutChannels, layer.Groups, layer.KernelSize.Height, layer.KernelSize.Width,
            layer.Stride.Height, layer.Stride.Width, layer.Padding.Top, layer.Padding.Left, output[1], output[2]);
        _layer = layer;
        var device = context.Device;
        if (layer.FrozenWeight)
        {
            // Not a parameter: a buffer of the host layer, sent again whenever the host writes its state.
            _frozenWeight = context.Track(device.Allocate<T>(layer.Weight.Value.Length));
            _weight = _frozenWeight.View;
        }
        else
        {
            var weight = context.Parameter(layer.Weight);
            (_weight, _weightGradient) = (weight.Value, weight.Gradient);
        }
        _bias = layer.Bias is null ? null : context.Parameter(layer.Bias);
        _noBias = context.Track(device.Allocate<T>(1));
        _output = NewMatrix(layer.OutputSize);
        _inputGradient = NewMatrix(layer.InputSize);
        _columns = NewMatrix(1);
        _product = NewMatrix(1);
        _im2col = device.Kernel("conv2d.im2col", a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ConvShape, int, int, int>(Im2Col));
        _col2im = device.Kernel("conv2d.col2im", a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ConvShape, int, int, int>(Col2Im));
        _scatterOutput = device.Kernel("conv2d.scatter-output", a =>
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ConvShape, int, int, int, int>(ScatterOutput));
        _gatherGradient = device.Kernel("conv2d.gather-gradient", a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ConvShape, int, int, int>(GatherGradient));
        _biasGradient = device.Kernel("conv2d.bias-gradient", a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, int, int, int>(BiasGradient));
        CopyFromHost();
    }

    public override void CopyFromHost() => _frozenWeight?.View.BaseView.CopyFromCPU(_layer.Weight.Value.Span);

    public override DeviceMatrix<T> Forward(DeviceMatrix<T> input)
    {
        _input = input;
        int batch = input.Rows;
        var s = _shape;
        _output.SetRows(batch);
        int perChunk = SamplesPerChunk(batch);
        for (int first = 0; first < batch; first += perChunk)
        {
            int count = Math.Min(perChunk, batch - first), span = count * s.OutputPlane;
            var (columns, product) = Scratch(count);
            for (int g = 0; g < s.Groups; g++)
            {
                _im2col(s.Patch * span, input.View, columns, s, g, first, count);
                Run.Gemm(false, false, s.GroupOutChannels, span, s.Patch, T.One, WeightOf(_weight, g), s.Patch, columns, span, T.Zero, product, span);
                _scatterOutput(s.GroupOutChannels * span, product, _bias?.Value ?? _noBias.View, _output.View, s, g, first, count, _bias is null ? 0 : 1);
            }
        }
        return _output;
    }

    public override DeviceMatrix<T> Backward(DeviceMatrix<T> outputGradient)
    {
        var input = _input!;
        int batch = outputGradient.Rows;
        var s = _shape;
        _inputGradient.SetRows(batch);
        if (_bias is not null && batch > 0) _biasGradient(s.OutChannels, outputGradient.View, _bias.Gradient, batch, s.OutChannels, s.OutputPlane);
        int perChunk = SamplesPerChunk(batch);
        for (int first = 0; first < batch; first += perChunk)
        {
            int count = Math.Min(perChunk, batch - first), span = count * s.OutputPlane;
            var (columns, product) = Scratch(count);
            for (int g = 0; g < s.Groups; g++)
            {
                _gatherGradient(s.GroupOutChannels * span, outputGradient.View, product, s, g, first, count);
                // dW_g += dY'·colsᵀ (unless W is frozen), then the columns' gradient Wᵀ·dY', then back to the image.
                if (_frozenWeight is null)
                {
                    _im2col(s.Patch * span, input.View, columns, s, g, first, count);
                    Run.Gemm(false, true, s.GroupOutChannels, s.Patch, span, T.One, product, span, columns, span, T.One, WeightOf(_weightGradient, g), s.Patch);
                }
                Run.Gemm(true, false, s.Patch, span, s.GroupOutChannels, T.One, WeightOf(_weight, g), s.Patch, product, span, T.Zero, columns, span);
                _col2im(count * s.GroupChannels * s.Height * s.Width, columns, _inputGradient.View, s, g, first, count);
            }
        }
        return _inputGradient;
    }

    // Group g's rows of the weight (or its gradient), (OC/G, Patch).
    private ArrayView<T> WeightOf(ArrayView<T> weight, int g) => weight.SubView((long)g * _shape.GroupOutChannels * _shape.Patch, (long)_shape.GroupOutChannels * _shape.Patch);

    private int SamplesPerChunk(int batch)
    {
        long perSample = (long)Math.Max(_shape.Patch, _shape.GroupOutChannels) * _shape.OutputPlane;
        return (int)Math.Clamp(Conv2dChunks.MaxElements / Math.Max(1, perSample), 1, Math.Max(1, batch));
    }

    private (ArrayView<T> Columns, ArrayView<T> Product) Scratch(int count)
    {
        int span = checked(count * _shape.OutputPlane);
        return (_columns.SetRows(checked(_shape.Patch * span)).View, _product.SetRows(checked(_shape.GroupOutChannels * span)).View);
    }

    /// <summary>The convolution's sizes as the kernels read them (see <see cref="Conv2d{T}"/>).</summary>
    internal readonly struct ConvShape(int channels, int height, int width, int outChannels, int groups, int kernelHeight, int kernelWidth,
        int strideHeight, int strideWidth, int padTop, int padLeft, int outHeight, int outWidth)
    {
        public readonly int Channels = channels, Height = height, Width = width, OutChannels = outChannels, Groups = groups;
        public readonly int KernelHeight = kernelHeight, KernelWidth = kernelWidth, StrideHeight = strideHeight, StrideWidth = strideWidth;
        public readonly int PadTop = padTop, PadLeft = padLeft, OutHeight = outHeight, OutWidth = outWidth;
        public readonly int GroupChannels = channels / groups, GroupOutChannels = outChannels / groups;
        public readonly int OutputPlane = outHeight * outWidth, Patch = channels / groups * kernelHeight * kernelWidth;
    }

    // cols[r, (n − first)·P + p] = x[n, g·C/G + c, oh·SH − PT + ki, ow·SW − PL + kj] (0 outside), r = (c·KH + ki)·KW + kj, p = oh·OW + ow.
    private static void Im2Col(Index1D e, ArrayView<T> x, ArrayView<T> columns, ConvShape s, int group, int first, int count)
    {
        int span = count * s.OutputPlane;
        int r = e / span, column = e - r * span;
        int n = first + column / s.OutputPlane, p = column % s.OutputPlane;
        int taps = s.KernelHeight * s.KernelWidth;
        int c = group * s.GroupChannels + r / taps, tap = r % taps;
        int ih = p / s.OutWidth * s.StrideHeight - s.PadTop + tap / s.KernelWidth;
        int iw = p % s.OutWidth * s.StrideWidth - s.PadLeft + tap % s.KernelWidth;
        columns[e] = ih >= 0 && ih < s.Height && iw >= 0 && iw < s.Width ? x[(((long)n * s.Channels + c) * s.Height + ih) * s.Width + iw] : T.Zero;
    }

    // y[n, g·OC/G + o, p] = Y'[o, (n − first)·P + p] + b.
    private static void ScatterOutput(Index1D e, ArrayView<T> product, ArrayView<T> bias, ArrayView<T> y, ConvShape s, int group, int first, int count, int hasBias)
    {
        int span = count * s.OutputPlane;
        int o = e / span, column = e - o * span;
        int n = first + column / s.OutputPlane, p = column % s.OutputPlane, channel = group * s.GroupOutChannels + o;
        T value = product[e];
        y[((long)n * s.OutChannels + channel) * s.OutputPlane + p] = hasBias != 0 ? value + bias[channel] : value;
    }

    // dY'[o, (n − first)·P + p] = dy[n, g·OC/G + o, p].
    private static void GatherGradient(Index1D e, ArrayView<T> dy, ArrayView<T> product, ConvShape s, int group, int first, int count)
    {
        int span = count * s.OutputPlane;
        int o = e / span, column = e - o * span;
        int n = first + column / s.OutputPlane, p = column % s.OutputPlane;
        product[e] = dy[((long)n * s.OutChannels + group * s.GroupOutChannels + o) * s.OutputPlane + p];
    }

    // dx[n, g·C/G + c, ih, iw] = Σ over the taps (ki, kj) whose window reads it of dcols[(c·KH + ki)·KW + kj, (n − first)·P + oh·OW + ow].
    private static void Col2Im(Index1D e, ArrayView<T> columns, ArrayView<T> dx, ConvShape s, int group, int first, int count)
    {
        int iw = e % s.Width, rest = e / s.Width;
        int ih = rest % s.Height;
        rest /= s.Height;
        int c = rest % s.GroupChannels, local = rest / s.GroupChannels;
        int span = count * s.OutputPlane;
        T sum = T.Zero;
        for (int ki = 0; ki < s.KernelHeight; ki++)
        {
            int y = ih + s.PadTop - ki;
            if (y < 0 || y % s.StrideHeight != 0 || y / s.StrideHeight >= s.OutHeight) continue;
            int oh = y / s.StrideHeight;
            for (int kj = 0; kj < s.KernelWidth; kj++)
            {
                int x = iw + s.PadLeft - kj;
                if (x < 0 || x % s.StrideWidth != 0 || x / s.StrideWidth >= s.OutWidth) continue;
                int row = (c * s.KernelHeight + ki) * s.KernelWidth + kj;
                sum += columns[(long)row * span + local * s.OutputPlane + oh * s.OutWidth + x / s.StrideWidth];
            }
        }
        dx[(((long)(first + local) * s.Channels + group * s.GroupChannels + c) * s.Height + ih) * s.Width + iw] = sum;
    }

    // db[o] += Σ_n Σ_p dy[n, o, p], samples and positions in order.
    private static void BiasGradient(Index1D o, ArrayView<T> dy, ArrayView<T> biasGradient, int batch, int channels, int plane)
    {
        T sum = T.Zero;
        for (int n = 0; n < batch; n++)
        {
            long start = ((long)n * channels + o) * plane;
            for (int p = 0; p < plane; p++) sum += dy[start + p];
        }
        biasGradient[o] += sum;
    }
}
