using System.Numerics;

namespace ScratchNet.Layers;

/// <summary>
/// Average pooling as PyTorch's <c>nn.AvgPool2d</c> (floor mode): each output is the sum of its (KH, KW) window over
/// the zero-padded input divided by KH·KW (<see cref="CountIncludePad"/>, PyTorch's default) or by the number of
/// window positions inside the image. Backward spreads each output's gradient over its window by the same divisor.
/// </summary>
public sealed class AvgPool2d<T> : Layer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly PoolWindows _windows;
    private bool _ran;

    /// <summary>A square window; the stride defaults to the window, padding at most half the window.</summary>
    /// <exception cref="ArgumentException">The input is not (C, H, W), the padding exceeds half the window, or the window does not fit.</exception>
    public AvgPool2d(Shape inputShape, int kernelSize, int? stride = null, int padding = 0, bool countIncludePad = true)
        : this(inputShape, (kernelSize, kernelSize), (stride ?? kernelSize, stride ?? kernelSize), (padding, padding), countIncludePad)
    {
    }

    /// <summary>A (KH, KW) window, stride (SH, SW) and padding (PH, PW).</summary>
    public AvgPool2d(Shape inputShape, (int Height, int Width) kernelSize, (int Height, int Width) stride, (int Height, int Width) padding, bool countIncludePad = true)
        : this(new PoolWindows(inputShape, kernelSize, stride, padding, "avgpool2d"), countIncludePad)
    {
    }

    private AvgPool2d(PoolWindows windows, bool countIncludePad) : base(windows.Input, windows.Output)
    {
        _windows = windows;
        CountIncludePad = countIncludePad;
    }

    /// <summary>The window's (height, width).</summary>
    public (int Height, int Width) KernelSize => _windows.Kernel;

    /// <summary>The stride along (height, width).</summary>
    public (int Height, int Width) Stride => _windows.Stride;

    /// <summary>Padding on each side along (height, width).</summary>
    public (int Height, int Width) Padding => _windows.Padding;

    /// <summary>Whether padded positions count in the divisor (PyTorch's default, true).</summary>
    public bool CountIncludePad { get; }

    /// <inheritdoc/>
    internal override bool BackwardReturnsInputGradient => true;

    /// <inheritdoc/>
    internal override bool ForwardReturnsOutput => true;

    /// <inheritdoc/>
    internal override bool BackwardReadsInput => false;

    /// <inheritdoc/>
    internal override bool BackwardReadsOutput => false;

    /// <inheritdoc/>
    public override string Kind => "avgpool2d";

    /// <inheritdoc/>
    public override IEnumerable<KeyValuePair<string, object>> Settings => [.. _windows.Settings, new("count_include_pad", CountIncludePad)];

    /// <summary>Rebuilds the layer from its settings: the registry's reader.</summary>
    public static AvgPool2d<T> Read(LayerSettings settings)
    {
        var windows = PoolWindows.Read(settings);
        return new(windows, settings.Bool("count_include_pad"));
    }

    /// <inheritdoc/>
    public override string Export(IGraphBuilder<T> graph, string input, string name) =>
        graph.AddNode("AveragePool", name, [input], [.. _windows.OnnxAttributes, new("count_include_pad", CountIncludePad ? 1L : 0L)]);

    /// <inheritdoc/>
    protected override Matrix<T>? LastOutput => _ran ? Output : null;

    /// <inheritdoc/>
    protected override Matrix<T> ForwardCore(Matrix<T> input)
    {
        int batch = input.Rows;
        Output.SetRows(batch);
        var w = _windows;
        for (int n = 0; n < batch; n++)
        {
            var x = input.Row(n);
            var y = Output.Row(n);
            int o = 0;
            for (int c = 0; c < w.Channels; c++)
                for (int oh = 0; oh < w.OutHeight; oh++)
                {
                    var (h0, h1) = w.Rows(oh);
                    for (int ow = 0; ow < w.OutWidth; ow++, o++)
                    {
                        var (w0, w1) = w.Columns(ow);
                        T sum = T.Zero;
                        for (int ih = h0; ih < h1; ih++)
                            for (int iw = w0; iw < w1; iw++) sum += x[(c * w.Height + ih) * w.Width + iw];
                        y[o] = sum / Divisor(h1 - h0, w1 - w0);
                    }
                }
        }
        _ran = true;
        return Output;
    }

    /// <inheritdoc/>
    protected override Matrix<T> BackwardCore(Matrix<T> outputGradient)
    {
        int batch = outputGradient.Rows;
        InputGradient.SetRows(batch);
        InputGradient.Span.Clear();
        var w = _windows;
        for (int n = 0; n < batch; n++)
        {
            var dy = outputGradient.Row(n);
            var dx = InputGradient.Row(n);
            int o = 0;
            for (int c = 0; c < w.Channels; c++)
                for (int oh = 0; oh < w.OutHeight; oh++)
                {
                    var (h0, h1) = w.Rows(oh);
                    for (int ow = 0; ow < w.OutWidth; ow++, o++)
                    {
                        var (w0, w1) = w.Columns(ow);
                        T share = dy[o] / Divisor(h1 - h0, w1 - w0);
                        for (int ih = h0; ih < h1; ih++)
                            for (int iw = w0; iw < w1; iw++) dx[(c * w.Height + ih) * w.Width + iw] += share;
                    }
                }
        }
        return InputGradient;
    }

    // With floor mode and padding ≤ half the window, a window never reaches past the padding: KH·KW when padding counts.
    private T Divisor(int rows, int columns) =>
        T.CreateTruncating(CountIncludePad ? _windows.Kernel.Height * _windows.Kernel.Width : rows * columns);
}
