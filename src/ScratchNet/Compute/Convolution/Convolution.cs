using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ScratchNet.Compute;

/// <summary>
/// 2-D convolution on (batch, C·H·W) storage, NCHW per row, through the core's GEMM: per sample and group,
/// forward Y = W·cols(X), backward-data dX = col2im(Wᵀ·dY), backward-weights dW += dY·cols(X)ᵀ, where cols
/// is <see cref="Im2Col"/>'s column matrix (skipped for a pointwise 1×1 convolution, whose input planes are it).
/// </summary>
/// <remarks>
/// Threads: forward and backward-data split the batch (each sample's result is computed by one thread in a
/// fixed order); backward-weights splits dW's columns (each element sums over the samples in order). Neither
/// split changes any element's arithmetic, so results do not depend on <see cref="Threading.ThreadCount"/>.
/// Scratch (a column matrix per thread) lives in pinned per-thread buffers that only grow: a warm call allocates nothing.
/// One instance per layer: it holds the arguments of the call in progress.
/// </remarks>
internal sealed unsafe class Convolution<T> : IParallelWork where T : unmanaged, IFloatingPointIeee754<T>
{
    private enum Pass { Forward, BackwardData, BackwardWeights }

    private Pass _pass;
    private ConvGeometry _g;
    private int _batch;
    private T* _x, _w, _b, _y;   // the pass's operands: see each entry point

    /// <summary>y (batch, OC·OH·OW) = conv(x (batch, C·H·W), w (OC, C/G, KH, KW)) + b (OC, or null).</summary>
    public void Forward(in ConvGeometry g, int batch, T* x, T* w, T* b, T* y) => Start(Pass.Forward, g, batch, x, w, b, y, parts: Math.Min(Threading.ThreadCount, batch));

    /// <summary>dx (batch, C·H·W) = the input gradient of dy (batch, OC·OH·OW) through w; dx is overwritten.</summary>
    public void BackwardData(in ConvGeometry g, int batch, T* dy, T* w, T* dx) => Start(Pass.BackwardData, g, batch, dy, w, null, dx, parts: Math.Min(Threading.ThreadCount, batch));

    /// <summary>dw (OC, C/G, KH, KW) += Σ over the batch of dy·cols(x)ᵀ.</summary>
    public void BackwardWeights(in ConvGeometry g, int batch, T* x, T* dy, T* dw) =>
        Start(Pass.BackwardWeights, g, batch, x, dy, null, dw, parts: Math.Min(Threading.ThreadCount, (g.Patch + 7) / 8));

    private void Start(Pass pass, in ConvGeometry g, int batch, T* x, T* w, T* b, T* y, int parts)
    {
        if (batch == 0) return;
        (_pass, _g, _batch) = (pass, g, batch);
        _x = x; _w = w; _b = b; _y = y;
        try { WorkerTeam.Run(Math.Max(1, parts), this); }
        finally { _x = _w = _b = _y = null; }
    }

    public void Execute(int part, int parts)
    {
        var g = _g;
        if (_pass == Pass.BackwardWeights)
        {
            int start = (int)((long)g.Patch * part / parts), end = (int)((long)g.Patch * (part + 1) / parts);
            if (end > start) BackwardWeights(g, start, end);
            return;
        }
        int first = (int)((long)_batch * part / parts), last = (int)((long)_batch * (part + 1) / parts);
        for (int n = first; n < last; n++)
        {
            if (_pass == Pass.Forward) ForwardSample(g, n);
            else BackwardDataSample(g, n);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ForwardSample(in ConvGeometry g, int n)
    {
        int og = g.GroupOutChannels, patch = g.Patch, plane = g.OutputPlane;
        T* x = _x + (nint)n * g.InputSize, y = _y + (nint)n * g.OutputSize;
        T* columns = g.IsPointwise ? null : Scratch.For((long)patch * plane);
        T beta = T.Zero;
        if (_b != null)
        {
            for (int o = 0; o < g.OutChannels; o++) new Span<T>(y + (nint)o * plane, plane).Fill(_b[o]);   // the bias enters as C, beta 1
            beta = T.One;
        }
        for (int group = 0; group < g.Groups; group++)
        {
            T* image = x + (nint)group * g.GroupChannels * g.InputPlane;
            if (columns != null) Im2Col.Gather(g, image, 0, patch, columns);
            Gemm.MultiplyOnThisThread(og, plane, patch, T.One, _w + (nint)group * og * patch, patch, false,
                columns != null ? columns : image, plane, false, beta, y + (nint)group * og * plane, plane);   // (OC/G, patch)·(patch, plane)
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void BackwardDataSample(in ConvGeometry g, int n)
    {
        int og = g.GroupOutChannels, patch = g.Patch, plane = g.OutputPlane;
        T* dy = _x + (nint)n * g.OutputSize, dx = _y + (nint)n * g.InputSize;
        if (g.IsPointwise)
        {
            for (int group = 0; group < g.Groups; group++)
                Gemm.MultiplyOnThisThread(patch, plane, og, T.One, _w + (nint)group * og * patch, patch, true,
                    dy + (nint)group * og * plane, plane, false, T.Zero, dx + (nint)group * g.GroupChannels * g.InputPlane, plane);
            return;
        }
        T* columns = Scratch.For((long)patch * plane);
        new Span<T>(dx, g.InputSize).Clear();
        for (int group = 0; group < g.Groups; group++)
        {
            Gemm.MultiplyOnThisThread(patch, plane, og, T.One, _w + (nint)group * og * patch, patch, true,
                dy + (nint)group * og * plane, plane, false, T.Zero, columns, plane);   // (patch, OC/G)·(OC/G, plane)
            Im2Col.ScatterAdd(g, columns, dx + (nint)group * g.GroupChannels * g.InputPlane);
        }
    }

    // dW[:, start..end) of every group, summing over the samples in order.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void BackwardWeights(in ConvGeometry g, int start, int end)
    {
        int og = g.GroupOutChannels, patch = g.Patch, plane = g.OutputPlane, width = end - start;
        T* columns = g.IsPointwise ? null : Scratch.For((long)width * plane);
        for (int n = 0; n < _batch; n++)
        {
            T* x = _x + (nint)n * g.InputSize, dy = _w + (nint)n * g.OutputSize;
            for (int group = 0; group < g.Groups; group++)
            {
                T* image = x + (nint)group * g.GroupChannels * g.InputPlane;
                T* rows = image + (nint)start * plane;   // pointwise: rows of the column matrix are input planes
                if (columns != null)
                {
                    Im2Col.Gather(g, image, start, end, columns);
                    rows = columns;
                }
                Gemm.MultiplyOnThisThread(og, width, plane, T.One, dy + (nint)group * og * plane, plane, false,
                    rows, plane, true, T.One, _y + (nint)group * og * patch + start, patch);   // (OC/G, plane)·(plane, width)
            }
        }
    }

    // A pinned buffer per thread, grown to the largest column matrix asked for and then reused.
    private static class Scratch
    {
        [ThreadStatic] private static T[]? _buffer;

        public static T* For(long length)
        {
            if (_buffer is null || _buffer.Length < length)
                _buffer = GC.AllocateUninitializedArray<T>(checked((int)length), pinned: true);
            return (T*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_buffer));
        }
    }

    /// <summary>The algorithmic truth of the forward pass: seven plain loops. Slow; for tests.</summary>
    public static void ReferenceForward(in ConvGeometry g, int batch, ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> b, Span<T> y)
    {
        int cg = g.GroupChannels, og = g.GroupOutChannels;
        for (int n = 0; n < batch; n++)
            for (int o = 0; o < g.OutChannels; o++)
                for (int oh = 0; oh < g.OutHeight; oh++)
                    for (int ow = 0; ow < g.OutWidth; ow++)
                    {
                        T sum = b.IsEmpty ? T.Zero : b[o];
                        int group = o / og;
                        for (int c = 0; c < cg; c++)
                            for (int ki = 0; ki < g.KernelHeight; ki++)
                                for (int kj = 0; kj < g.KernelWidth; kj++)
                                {
                                    int ih = oh * g.StrideHeight - g.PadTop + ki, iw = ow * g.StrideWidth - g.PadLeft + kj;
                                    if ((uint)ih >= (uint)g.Height || (uint)iw >= (uint)g.Width) continue;
                                    sum += w[((o * cg + c) * g.KernelHeight + ki) * g.KernelWidth + kj]
                                         * x[n * g.InputSize + (group * cg + c) * g.InputPlane + ih * g.Width + iw];
                                }
                        y[n * g.OutputSize + (o * g.OutHeight + oh) * g.OutWidth + ow] = sum;
                    }
    }

    /// <summary>
    /// The algorithmic truth of both backward halves from the same loops: dx (overwritten) and dw (added into)
    /// for upstream gradient dy. Slow; for tests.
    /// </summary>
    public static void ReferenceBackward(in ConvGeometry g, int batch, ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> dy, Span<T> dx, Span<T> dw)
    {
        int cg = g.GroupChannels, og = g.GroupOutChannels;
        dx.Clear();
        for (int n = 0; n < batch; n++)
            for (int o = 0; o < g.OutChannels; o++)
                for (int oh = 0; oh < g.OutHeight; oh++)
                    for (int ow = 0; ow < g.OutWidth; ow++)
                    {
                        T d = dy[n * g.OutputSize + (o * g.OutHeight + oh) * g.OutWidth + ow];
                        int group = o / og;
                        for (int c = 0; c < cg; c++)
                            for (int ki = 0; ki < g.KernelHeight; ki++)
                                for (int kj = 0; kj < g.KernelWidth; kj++)
                                {
                                    int ih = oh * g.StrideHeight - g.PadTop + ki, iw = ow * g.StrideWidth - g.PadLeft + kj;
                                    if ((uint)ih >= (uint)g.Height || (uint)iw >= (uint)g.Width) continue;
                                    int wi = ((o * cg + c) * g.KernelHeight + ki) * g.KernelWidth + kj;
                                    int xi = n * g.InputSize + (group * cg + c) * g.InputPlane + ih * g.Width + iw;
                                    dw[wi] += d * x[xi];
                                    dx[xi] += d * w[wi];
                                }
                    }
    }
}
