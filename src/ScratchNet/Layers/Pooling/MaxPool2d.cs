using System.Numerics;
using ScratchNet.Compute;

namespace ScratchNet.Layers;

/// <summary>
/// Max pooling as PyTorch's <c>nn.MaxPool2d</c> (dilation 1, floor mode): each (C, OH, OW) output is the largest
/// input in its (KH, KW) window, moved by the stride over the input padded with −∞. Backward routes each output's
/// gradient to the input that won its window (the first in row-major order on ties, as PyTorch's CPU kernel).
/// </summary>
public sealed class MaxPool2d<T> : Layer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly PoolWindows _windows;
    private int[] _argmax = [];                  // (B, C·OH·OW): the winning input's index within its sample
    private bool _ran;
    private readonly SampleJob _job;

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
        _job = new SampleJob(this);
    }

    /// <summary>The window's (height, width).</summary>
    public (int Height, int Width) KernelSize => _windows.Kernel;

    /// <summary>The stride along (height, width).</summary>
    public (int Height, int Width) Stride => _windows.Stride;

    /// <summary>Padding on each side along (height, width).</summary>
    public (int Height, int Width) Padding => _windows.Padding;

    /// <inheritdoc/>
    internal override bool BackwardReturnsInputGradient => true;

    /// <inheritdoc/>
    internal override bool ForwardReturnsOutput => true;

    /// <inheritdoc/>
    internal override bool BackwardReadsInput => false;

    /// <inheritdoc/>
    internal override bool BackwardReadsOutput => false;

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
    protected override Matrix<T>? LastOutput => _ran ? Output : null;

    /// <inheritdoc/>
    protected override Matrix<T> ForwardCore(Matrix<T> input)
    {
        int batch = input.Rows;
        Output.SetRows(batch);
        if (_argmax.Length < batch * OutputSize) _argmax = new int[batch * OutputSize];
        _job.Run(input, forward: true);
        _ran = true;
        return Output;
    }

    /// <inheritdoc/>
    protected override Matrix<T> BackwardCore(Matrix<T> outputGradient)
    {
        InputGradient.SetRows(outputGradient.Rows);
        _job.Run(outputGradient, forward: false);
        return InputGradient;
    }

    private void ForwardSample(Matrix<T> input, int n)
    {
        var w = _windows;
        var x = input.Row(n);
        var y = Output.Row(n);
        var winners = _argmax.AsSpan(n * OutputSize, OutputSize);
        if (w.Kernel == (2, 2) && w.Stride == (2, 2) && w.Padding == (0, 0))
        {
            ForwardTwoByTwo(x, y, winners);
            return;
        }
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
                    {
                        int row = (c * w.Height + ih) * w.Width;
                        for (int i = row + w0; i < row + w1; i++)
                            if (at < 0 || x[i] > best || T.IsNaN(x[i]) && !T.IsNaN(best)) (best, at) = (x[i], i);
                    }
                    y[o] = best;
                    winners[o] = at;
                }
            }
    }

    // The recipe's pool (2×2, stride 2, no padding: every window inside the image), with the general loop's order and tie
    // and NaN rules, without its per-window clipping, and without data-dependent branches: which of four values wins is a
    // coin toss to a branch predictor (a mispredicted branch per comparison cost most of the pass). The winner is the first
    // of the window's values, in the general loop's order, that is a NaN if any is, else that equals their maximum.
    private void ForwardTwoByTwo(ReadOnlySpan<T> x, Span<T> y, Span<int> winners)
    {
        var w = _windows;
        int width = w.Width, o = 0;
        for (int c = 0; c < w.Channels; c++)
            for (int oh = 0; oh < w.OutHeight; oh++)
            {
                int top = (c * w.Height + 2 * oh) * width;
                for (int ow = 0; ow < w.OutWidth; ow++, o++)
                {
                    int i = top + 2 * ow;
                    T a = x[i], b = x[i + 1], d = x[i + width], e = x[i + width + 1];
                    T best = T.Max(T.Max(a, b), T.Max(d, e));   // NaN when any is NaN
                    int equal = Bit(a == best) | Bit(b == best) << 1 | Bit(d == best) << 2 | Bit(e == best) << 3;
                    if (equal == 0) equal = Bit(T.IsNaN(a)) | Bit(T.IsNaN(b)) << 1 | Bit(T.IsNaN(d)) << 2 | Bit(T.IsNaN(e)) << 3;   // rare: a NaN
                    int k = System.Numerics.BitOperations.TrailingZeroCount(equal);
                    int at = i + (k & 1) + (k >> 1) * width;
                    y[o] = x[at];
                    winners[o] = at;
                }
            }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static int Bit(bool value) => System.Runtime.CompilerServices.Unsafe.BitCast<bool, byte>(value);

    private void BackwardSample(Matrix<T> outputGradient, int n)
    {
        var dy = outputGradient.Row(n);
        var dx = InputGradient.Row(n);
        dx.Clear();
        var winners = _argmax.AsSpan(n * OutputSize, OutputSize);
        for (int o = 0; o < dy.Length; o++) dx[winners[o]] += dy[o];
    }

    // Samples are independent: the batch is split among the thread team, the same result for any thread count.
    private sealed class SampleJob(MaxPool2d<T> layer) : IParallelWork
    {
        private Matrix<T>? _matrix;
        private bool _forward;

        public void Run(Matrix<T> matrix, bool forward)
        {
            (_matrix, _forward) = (matrix, forward);
            long work = (long)matrix.Rows * layer.InputSize;
            int parts = (int)Math.Clamp(work / (1 << 15), 1, Math.Min(Threading.ThreadCount, matrix.Rows));
            try { WorkerTeam.Run(parts, this); }
            finally { _matrix = null; }
        }

        void IParallelWork.Execute(int part, int parts)
        {
            var matrix = _matrix!;
            int first = (int)((long)matrix.Rows * part / parts), end = (int)((long)matrix.Rows * (part + 1) / parts);
            for (int n = first; n < end; n++)
                if (_forward) layer.ForwardSample(matrix, n);
                else layer.BackwardSample(matrix, n);
        }
    }
}
