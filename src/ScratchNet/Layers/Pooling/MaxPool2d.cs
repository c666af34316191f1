using System.Numerics;

namespace ScratchNet.Layers;

/// <summary>
/// Max pooling as PyTorch's <c>nn.MaxPool2d</c> (dilation 1, floor mode): each (C, OH, OW) output is the largest
/// input in its (KH, KW) window, moved by the stride over the input padded with −∞. Backward routes each output's
/// gradient to the input that won its window (the first in row-major order on ties, as PyTorch's CPU kernel).
/// </summary>
public sealed class MaxPool2d<T> : Layer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly PoolWindows _windows;
    private readonly Matrix<T> _output;          // (B, C·OH·OW)
    private readonly Matrix<T> _inputGradient;   // (B, C·H·W)
    private int[] _argmax = [];                  // (B, C·OH·OW): the winning input's index within its sample
    private bool _ran;

    /// <summary>A square window; the stride defaults to the window (PyTorch's default), padding at most half the window.</summary>
    /// <exception cref="ArgumentException">The input is not (C, H, W), the padding exceeds half the window, or the window does not fit.</exception>
    public MaxPool2d(Shape inputShape, int kernelSize, int? stride = null, int padding = 0)
        : this(inputShape, (kernelSize, kernelSize), (stride ?? kernelSize, stride ?? kernelSize), (padding, padding))
    {
    }

    /// <summary>A (KH, KW) window, stride (SH, SW) and padding (PH, PW), each PH ≤ KH/2 and PW ≤ KW/2 as PyTorch requires.</summary>
    public MaxPool2d(Shape inputShape, (int Height, int Width) kernelSize, (int Height, int Width) stride, (int Height, int Width) padding)
        : this(new PoolWindows(inputShape, kernelSize, stride, padding, "maxpool2d"))
    {
    }

    private MaxPool2d(PoolWindows windows) : base(windows.Input, windows.Output)
    {
        _windows = windows;
        _output = new Matrix<T>(0, OutputSize);
        _inputGradient = new Matrix<T>(0, InputSize);
    }

    /// <summary>The window's (height, width).</summary>
    public (int Height, int Width) KernelSize => _windows.Kernel;

    /// <summary>The stride along (height, width).</summary>
    public (int Height, int Width) Stride => _windows.Stride;

    /// <summary>Padding on each side along (height, width).</summary>
    public (int Height, int Width) Padding => _windows.Padding;

    /// <inheritdoc/>
    public override string Kind => "maxpool2d";

    /// <inheritdoc/>
    public override IEnumerable<KeyValuePair<string, object>> Settings => _windows.Settings;

    /// <summary>Rebuilds the layer from its settings: the registry's reader.</summary>
    public static MaxPool2d<T> Read(LayerSettings settings) => new(PoolWindows.Read(settings));

    /// <inheritdoc/>
    public override string Export(IGraphBuilder<T> graph, string input, string name) =>
        graph.AddNode("MaxPool", name, [input], _windows.OnnxAttributes);

    /// <inheritdoc/>
    protected override Matrix<T>? LastOutput => _ran ? _output : null;

    /// <inheritdoc/>
    protected override Matrix<T> ForwardCore(Matrix<T> input)
    {
        int batch = input.Rows;
        _output.SetRows(batch);
        if (_argmax.Length < batch * OutputSize) _argmax = new int[batch * OutputSize];
        var w = _windows;
        for (int n = 0; n < batch; n++)
        {
            var x = input.Row(n);
            var y = _output.Row(n);
            var winners = _argmax.AsSpan(n * OutputSize, OutputSize);
            int o = 0;
            for (int c = 0; c < w.Channels; c++)
                for (int oh = 0; oh < w.OutHeight; oh++)
                {
                    var (h0, h1) = w.Rows(oh);
                    for (int ow = 0; ow < w.OutWidth; ow++, o++)
                    {
                        var (w0, w1) = w.Columns(ow);
                        T best = T.NegativeInfinity;
                        int at = -1;
                        for (int ih = h0; ih < h1; ih++)
                            for (int iw = w0; iw < w1; iw++)
                            {
                                int i = (c * w.Height + ih) * w.Width + iw;
                                if (at < 0 || x[i] > best || T.IsNaN(x[i]) && !T.IsNaN(best)) (best, at) = (x[i], i);
                            }
                        y[o] = best;
                        winners[o] = at;
                    }
                }
        }
        _ran = true;
        return _output;
    }

    /// <inheritdoc/>
    protected override Matrix<T> BackwardCore(Matrix<T> outputGradient)
    {
        int batch = outputGradient.Rows;
        _inputGradient.SetRows(batch);
        _inputGradient.Span.Clear();
        for (int n = 0; n < batch; n++)
        {
            var dy = outputGradient.Row(n);
            var dx = _inputGradient.Row(n);
            var winners = _argmax.AsSpan(n * OutputSize, OutputSize);
            for (int o = 0; o < dy.Length; o++) dx[winners[o]] += dy[o];
        }
        return _inputGradient;
    }
}
