using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
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
        if (typeof(T) == typeof(float) && Avx2.IsSupported)
        {
            TwoByTwoAvx2(MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(y), winners, _windows);
            return;
        }
        var w = _windows;
        for (int c = 0, o = 0; c < w.Channels; c++)
            for (int oh = 0; oh < w.OutHeight; oh++, o += w.OutWidth)
                TwoByTwoRow(x, y, winners, w.Width, (c * w.Height + 2 * oh) * w.Width, o, 0, w.OutWidth);
    }

    // Outputs [first, end) of one output row (its windows start at input `top`, outputs at `o`), one at a time.
    private static void TwoByTwoRow(ReadOnlySpan<T> x, Span<T> y, Span<int> winners, int width, int top, int o, int first, int end)
    {
        for (int ow = first; ow < end; ow++)
        {
            int i = top + 2 * ow;
            T a = x[i], b = x[i + 1], d = x[i + width], e = x[i + width + 1];
            T best = T.Max(T.Max(a, b), T.Max(d, e));   // NaN when any is NaN
            int equal = Bit(a == best) | Bit(b == best) << 1 | Bit(d == best) << 2 | Bit(e == best) << 3;
            if (equal == 0) equal = Bit(T.IsNaN(a)) | Bit(T.IsNaN(b)) << 1 | Bit(T.IsNaN(d)) << 2 | Bit(T.IsNaN(e)) << 3;   // rare: a NaN
            int k = System.Numerics.BitOperations.TrailingZeroCount(equal);
            int at = i + (k & 1) + (k >> 1) * width;
            y[o + ow] = x[at];
            winners[o + ow] = at;
        }
    }

    // The same rule eight windows at a time (float, AVX2): a row pair's 16 + 16 inputs split into the windows' four corners
    // (even and odd columns of each row), the maximum of the four, then the winner chosen from the last corner back to the
    // first, so that the first corner equal to the maximum wins, as in the scalar loop. A group with a NaN in a window it
    // keeps goes through the scalar loop (its rule for NaN); the last group of a row may read into the next row, whose
    // lanes are dropped, except at the end of the sample, where the scalar loop finishes the row. Measured at batch 1,024
    // (bench cnn-layers, 2 threads): 64 channels 31 → 15 px 31.8 → 7.8–11.8 ms, 256 channels 15 → 7 px 27.0 → 8.9–9.0 ms.
    private static unsafe void TwoByTwoAvx2(ReadOnlySpan<float> x, Span<float> y, Span<int> winners, PoolWindows w)
    {
        int width = w.Width, outWidth = w.OutWidth;
        var columns = Vector256.Create(0, 2, 4, 6, 8, 10, 12, 14);
        fixed (float* px = x, py = y)
        fixed (int* pw = winners)
            for (int c = 0, o = 0; c < w.Channels; c++)
                for (int oh = 0; oh < w.OutHeight; oh++, o += outWidth)
                {
                    int top = (c * w.Height + 2 * oh) * width, ow = 0;
                    for (; ow < outWidth; ow += 8)
                    {
                        int i = top + 2 * ow, valid = Math.Min(8, outWidth - ow);
                        if (i + width + 16 > x.Length) break;   // the sample's last row pair: the scalar loop reads only inside it
                        float* upper = px + i, lower = upper + width;
                        var (a, b) = Split(Avx.LoadVector256(upper), Avx.LoadVector256(upper + 8));
                        var (d, e) = Split(Avx.LoadVector256(lower), Avx.LoadVector256(lower + 8));
                        var nan = Avx.CompareUnordered(a, b) | Avx.CompareUnordered(d, e);
                        if ((Avx.MoveMask(nan) & ((1 << valid) - 1)) != 0)
                        {
                            TwoByTwoRow(MemoryMarshal.Cast<float, T>(x), MemoryMarshal.Cast<float, T>(y), winners, width, top, o, ow, ow + valid);
                            continue;
                        }
                        var best = Avx.Max(Avx.Max(a, b), Avx.Max(d, e));
                        var at = Vector256.Create(i) + columns;
                        var value = e;
                        var index = at + Vector256.Create(width + 1);
                        (value, index) = Prefer(d, at + Vector256.Create(width), best, value, index);
                        (value, index) = Prefer(b, at + Vector256<int>.One, best, value, index);
                        (value, index) = Prefer(a, at, best, value, index);
                        if (valid == 8)
                        {
                            Avx.Store(py + o + ow, value);
                            Avx.Store(pw + o + ow, index);
                        }
                        else
                            for (int lane = 0; lane < valid; lane++)
                            {
                                py[o + ow + lane] = value.GetElement(lane);
                                pw[o + ow + lane] = index.GetElement(lane);
                            }
                    }
                    if (ow < outWidth) TwoByTwoRow(MemoryMarshal.Cast<float, T>(x), MemoryMarshal.Cast<float, T>(y), winners, width, top, o, ow, outWidth);
                }

        // 16 consecutive inputs as their even and odd columns, in order.
        static (Vector256<float> Even, Vector256<float> Odd) Split(Vector256<float> first, Vector256<float> second) =>
            (Avx2.Permute4x64(Avx.Shuffle(first, second, 0x88).AsDouble(), 0xD8).AsSingle(),
             Avx2.Permute4x64(Avx.Shuffle(first, second, 0xDD).AsDouble(), 0xD8).AsSingle());

        // Where `corner` equals the maximum, it wins over what won so far (which comes later in the window's order).
        static (Vector256<float>, Vector256<int>) Prefer(Vector256<float> corner, Vector256<int> at, Vector256<float> best, Vector256<float> value, Vector256<int> index)
        {
            var equal = Avx.CompareEqual(corner, best);
            return (Avx.BlendVariable(value, corner, equal), Avx.BlendVariable(index.AsSingle(), at.AsSingle(), equal).AsInt32());
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
