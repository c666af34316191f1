using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ScratchNet.Compute;

/// <summary>
/// 2-D convolution on (batch, C·H·W) storage, NCHW per row. Ungrouped stride-1 layers take direct kernels: forward and
/// backward-data <see cref="DirectConvolution{T}"/> (the padded grid) or, on small planes, <see cref="ChannelVectorConvolution{T}"/>
/// (see <see cref="DirectPath"/>), backward-weights <see cref="DirectWeightGradient{T}"/> or, for kernels of few taps,
/// <see cref="PositionVectorWeightGradient{T}"/>. Everything else goes through the
/// core's GEMM: per sample and group, forward Y = W·cols(X), backward-data dX = col2im(Wᵀ·dY), backward-weights
/// dW += dY·cols(X)ᵀ, where cols is <see cref="Im2Col"/>'s column matrix (skipped for a pointwise 1×1 convolution, whose
/// input planes are it).
/// </summary>
/// <remarks>
/// Threads: forward and backward-data split the batch (each sample's result is computed by one thread in a fixed order,
/// in chunks of samples fixed by the geometry); backward-weights splits dW, by columns on the GEMM path and by blocks of
/// output channels on the direct one (each element sums over the samples in order, chunk by chunk). No split changes any
/// element's arithmetic, so results do not depend on <see cref="Threading.ThreadCount"/>.
/// Scratch (column matrices, padded planes, transposed gradients, partial dW) lives in pinned per-thread buffers that only
/// grow: a warm call allocates nothing. One instance per layer: it holds the arguments of the call in progress.
/// </remarks>
internal sealed unsafe class Convolution<T> : IParallelWork where T : unmanaged, IFloatingPointIeee754<T>
{
    private enum Pass { Forward, BackwardData, BackwardWeights }

    private Pass _pass;
    private ConvGeometry _g;
    private int _batch;
    private T* _x, _w, _b, _y;   // the pass's operands: see each entry point

    /// <summary>y (batch, OC·OH·OW) = conv(x (batch, C·H·W), w (OC, C/G, KH, KW)) + b (OC, or null).</summary>
    public void Forward(in ConvGeometry g, int batch, T* x, T* w, T* b, T* y)
    {
        var direct = DirectPath(g, backwardData: false);
        if (direct != DirectKernel.None) StartDirect(Pass.Forward, direct, g, batch, x, w, b, y);
        else Start(Pass.Forward, g, batch, x, w, b, y, parts: Math.Min(Threading.ThreadCount, Chunks(g, batch)));
    }

    /// <summary>dx (batch, C·H·W) = the input gradient of dy (batch, OC·OH·OW) through w; dx is overwritten.</summary>
    public void BackwardData(in ConvGeometry g, int batch, T* dy, T* w, T* dx)
    {
        var direct = DirectPath(g, backwardData: true);
        if (direct != DirectKernel.None) StartDirect(Pass.BackwardData, direct, g, batch, dy, w, null, dx);
        else Start(Pass.BackwardData, g, batch, dy, w, null, dx, parts: Math.Min(Threading.ThreadCount, Chunks(g, batch)));
    }

    /// <summary>Whether the passes may take the direct kernels (tests and the bench turn them off to time the GEMM path).</summary>
    internal static bool DirectEnabled { get; set; } = true;

    /// <summary>
    /// The fewest channels a pass must write to take a direct kernel on <paramref name="kernel"/>'s path. The whitening conv's
    /// backward-data writes 3 channels in tiles of 4: through AVX2's padded grid it measured 2× slower than im2col + GEMM
    /// (on Zen 3; 88 against 97 GFLOP/s on Zen 5), through AVX-512's 2.2× faster (130 against 59).
    /// </summary>
    internal static int DirectMinimumChannels(GemmKernel kernel) => kernel is GemmKernel.Avx512 ? 3 : 8;

    /// <summary>
    /// Whether <paramref name="g"/> runs forward and backward-data by <see cref="DirectConvolution{T}"/>: ungrouped, stride 1,
    /// every padding below the kernel (so that backward-data's K − 1 − pad is a padding too), on the AVX2 or AVX-512
    /// GEMM path (forcing a narrower GEMM kernel forces the column-matrix path, which has kernels for every width).
    /// The pass must write at least <see cref="DirectMinimumChannels"/> channels (OC forward, C backward-data).
    /// Decided by the geometry and the instruction set alone, never by the thread count.
    /// </summary>
    internal static bool UsesDirect(in ConvGeometry g, bool backwardData) => DirectPath(g, backwardData) != DirectKernel.None;

    /// <summary>On AVX2 and AVX-512, the direct kernel forward and backward-data take wherever one applies, instead of <see cref="DirectPath"/>'s choice (the bench times both).</summary>
    internal static DirectKernel? DirectOverride { get; set; }

    /// <summary>The direct kernels of forward and backward-data.</summary>
    internal enum DirectKernel { None, PaddedGrid, ChannelVector }

    /// <summary>
    /// Which direct kernel serves forward (or backward-data) of <paramref name="g"/>, if any (see <see cref="UsesDirect"/>):
    /// <see cref="ChannelVectorConvolution{T}"/> on the Vector128 path, and on AVX2 and AVX-512 where the padded grid
    /// would compute and drop clearly more positions than the channel blocks leave lanes empty (small planes: on AVX2
    /// 15×15 computes 264 positions for 225, 7×7 72 for 49, 3×3 24 for 9); <see cref="DirectConvolution{T}"/>'s padded
    /// grid otherwise.
    /// </summary>
    internal static DirectKernel DirectPath(in ConvGeometry g, bool backwardData)
    {
        int channels = backwardData ? g.Channels : g.OutChannels;
        var kernel = Gemm.Kernel;
        if (channels < DirectMinimumChannels(kernel) || !DirectEnabled || !FitsPaddedGrid(g)) return DirectKernel.None;
        if (kernel is GemmKernel.Vector128 && ChannelVectorConvolution<T>.Supports(kernel)) return DirectKernel.ChannelVector;
        if (!DirectConvolution<T>.Supports(kernel)) return DirectKernel.None;
        if (DirectOverride is { } chosen and not DirectKernel.None) return chosen;
        int outHeight = backwardData ? g.Height : g.OutHeight, outWidth = backwardData ? g.Width : g.OutWidth;
        int nr = DirectConvolution<T>.NR(kernel), bw = ChannelVectorConvolution<T>.BlockWidth(kernel, channels);
        long grid = (long)outHeight * (outWidth + g.KernelWidth - 1);
        double gridShare = (double)outHeight * outWidth / ((grid + nr - 1) / nr * nr);
        double laneShare = (double)channels / ((channels + bw - 1) / bw * bw);
        return laneShare > gridShare + ChannelVectorMargin(kernel) ? DirectKernel.ChannelVector : DirectKernel.PaddedGrid;
    }

    // How much more of its work the channel-vector kernel must keep than the padded grid to be chosen. On AVX2 its tile
    // loads nine values per twelve multiply-adds where the grid's loads seven, so it wins only where the grid wastes more.
    // Measured (bench conv, ours_other_direct): on AVX2 it wins at 15 px (the grid keeps 0.85) and loses at 31 px (0.93).
    // AVX-512's wide tile loads ten per 24 (the grid's 4×48 tile seven per twelve), so there it needs less: at 31 px, where
    // the grid keeps 0.91 of its work, 24→64 forward read 261 against 235 GFLOP/s on an Emerald Rapids Xeon (a probe outside
    // the repository, median of ten interleaved half-second runs, batch 512, two threads; 260 against 237 in bench conv
    // that day, ours_other_direct in bench/results/conv-cpu-2026-12-04-emr-batch512-two-peers.jsonl), and the two read
    // even on Zen 5 (328 against 300 GFLOP/s in one run, 345 against 372 in the next).
    private static double ChannelVectorMargin(GemmKernel kernel) => kernel is GemmKernel.Avx512 ? 0.05 : 0.10;

    // Ungrouped, stride 1, and the input with its padding exactly the (OH + KH − 1, OW + KW − 1) grid, every padding below the kernel.
    private static bool FitsPaddedGrid(in ConvGeometry g)
    {
        int bottom = g.OutHeight - 1 + g.KernelHeight - g.Height - g.PadTop, right = g.OutWidth - 1 + g.KernelWidth - g.Width - g.PadLeft;
        return g.Groups == 1 && g.StrideHeight == 1 && g.StrideWidth == 1
            && g.PadTop < g.KernelHeight && g.PadLeft < g.KernelWidth && bottom >= 0 && bottom < g.KernelHeight && right >= 0 && right < g.KernelWidth;
    }

    /// <summary>
    /// Whether <paramref name="g"/> runs backward-weights by <see cref="DirectWeightGradient{T}"/>: the padded-grid geometry of
    /// <see cref="UsesDirect"/>, on a GEMM path that has a tile for it (AVX-512, AVX2, Vector128).
    /// Decided by the geometry and the instruction set alone, never by the thread count.
    /// </summary>
    internal static bool UsesDirectWeights(in ConvGeometry g) => DirectEnabled && DirectWeightGradient<T>.Supports(Gemm.Kernel) && FitsPaddedGrid(g);

    /// <summary>
    /// Whether <paramref name="g"/> runs backward-weights by <see cref="PositionVectorWeightGradient{T}"/>: the geometry of
    /// <see cref="UsesDirectWeights"/> with at most <see cref="PositionVectorWeightGradient{T}.MostTaps"/> taps, on AVX2 or AVX-512.
    /// </summary>
    internal static bool UsesPositionVectorWeights(in ConvGeometry g) =>
        PositionVectorWeightsEnabled && UsesDirectWeights(g) && g.Patch <= PositionVectorWeightGradient<T>.MostTaps && PositionVectorWeightGradient<T>.Supports(Gemm.Kernel);

    /// <summary>Whether few-tap kernels may take <see cref="PositionVectorWeightGradient{T}"/> (tests turn it off to reach <see cref="DirectWeightGradient{T}"/> on them).</summary>
    internal static bool PositionVectorWeightsEnabled { get; set; } = true;

    /// <summary>dw (OC, C/G, KH, KW) += Σ over the batch of dy·cols(x)ᵀ.</summary>
    public void BackwardWeights(in ConvGeometry g, int batch, T* x, T* dy, T* dw)
    {
        if (UsesPositionVectorWeights(g)) StartPositionVectorWeights(g, batch, x, dy, dw);
        else if (UsesDirectWeights(g)) StartDirectWeights(g, batch, x, dy, dw);
        else Start(Pass.BackwardWeights, g, batch, x, dy, null, dw, parts: Math.Min(Threading.ThreadCount, (g.Patch + 7) / 8));
    }

    // The direct backward-weights pass in progress: its instruction set, channel blocks, sample parts, tap slots, samples per
    // chunk, and per slot the tap offset into the padded planes and the tap it computes (−1 for the slots that round a group
    // up). The slots run kernel position by kernel position, (ki, kj) then channel, each position's channels rounded up to
    // whole tiles, so that a tile's six taps share (ki, kj) and with it the window of output positions that see the image.
    private bool _directWeights, _reducingWeights;
    private GemmKernel _weightsKernel;
    private int _weightBlocks, _weightSampleParts, _blockWidth, _tapSlots, _chunkSamples;
    private int[] _weightOffsets = [], _slotTaps = [];
    private DirectWeightGradient<T>.TapWindow[] _tapWindows = [];   // (kernel positions)
    private T[] _weightPartials = [];   // (sample parts, blocks, tap slots, BW): each part's sums, added into dW part by part

    // A chunk's output gradients, transposed for one channel block, take at most ChunkTransposedBytes (256 positions of
    // float at AVX-512's 32 channels, 512 at AVX2's 16), so that they stay in a 48 KB L1 beside the input rows of the
    // tile's taps while the block's tiles sweep them again and again; and its padded inputs at most
    // LargestPaddedChunkBytes, so that they stay in L2 while every channel block sweeps them: on 3×3 planes a tile reads a
    // few cache lines of each sample, and samples streamed from L3 left it waiting on memory (0.22 of peak with 4 MB
    // chunks). The gradients were held to 2,048 positions (128 KB at 16 channels, in L2) until, in a probe outside the repository on
    // an Emerald Rapids Xeon (two threads, batch 512, interleaved in one process, 10–12 half-second runs each), one 15×15 sample per chunk
    // instead of two read 64→64 backward-weights at 248 against 226 GFLOP/s (median; best 293 against 282) and 64→256 at
    // 305 against 300; the other shapes of the recipe keep their chunks.
    private const int ChunkTransposedBytes = 32 << 10;
    private const int LargestPaddedChunkBytes = 192 << 10;

    /// <summary>Samples per chunk of the direct backward-weights pass, for channel blocks of <paramref name="blockWidth"/>: each dW element sums a chunk in registers, then adds it.</summary>
    internal static int WeightChunkSamples(in ConvGeometry g, int batch, int blockWidth)
    {
        long padded = (long)g.Channels * (g.OutHeight + g.KernelHeight - 1) * (g.OutWidth + g.KernelWidth - 1);
        long transposed = (long)g.OutputPlane * blockWidth * Unsafe.SizeOf<T>();
        long samples = Math.Min(ChunkTransposedBytes / Math.Max(1, transposed), LargestPaddedChunkBytes / Unsafe.SizeOf<T>() / Math.Max(1, padded));
        return (int)Math.Clamp(samples, 1, Math.Max(1, batch));
    }

    /// <summary>
    /// The direct backward-weights pass splits its work into at least this many (sample part, channel block) items where
    /// the batch allows, whatever the thread count: layers of few output channels split the batch into parts as well as
    /// the channels into blocks. When the threads split only the blocks, each of them padded every sample of the batch
    /// and read all of its input for its own block. Measured on a Xeon by a probe outside the repository (two threads,
    /// batch 256, the median over 40 interleaved pairs of the ratio to the blocks-only split): 1.05× on 64→64 at 15 px, 1.07× on 24→64 at 31 px, where
    /// two runs of the same split differ by up to 3 %; 64→256 (eight blocks) is unchanged.
    /// </summary>
    internal const int WeightItems = 8;

    /// <summary>Sample parts of the direct backward-weights pass over <paramref name="blocks"/> channel blocks: from the geometry and the batch alone, never the thread count.</summary>
    internal static int WeightSampleParts(int blocks, int batch) => Math.Clamp((WeightItems + blocks - 1) / blocks, 1, Math.Max(1, batch));

    private void StartDirectWeights(in ConvGeometry g, int batch, T* x, T* dy, T* dw)
    {
        if (batch == 0) return;
        _weightsKernel = Gemm.Kernel;
        _blockWidth = DirectWeightGradient<T>.BlockWidth(_weightsKernel);
        _weightBlocks = (g.OutChannels + _blockWidth - 1) / _blockWidth;
        _weightSampleParts = WeightSampleParts(_weightBlocks, batch);
        int step = DirectWeightGradient<T>.Taps, kk = g.KernelHeight * g.KernelWidth, groups = (g.Channels + step - 1) / step;
        _tapSlots = kk * groups * step;
        _chunkSamples = WeightChunkSamples(g, batch, _blockWidth);
        if (_weightOffsets.Length != _tapSlots)
        {
            _weightOffsets = GC.AllocateUninitializedArray<int>(_tapSlots, pinned: true);
            _slotTaps = GC.AllocateUninitializedArray<int>(_tapSlots, pinned: true);
        }
        long partials = (long)_weightSampleParts * _weightBlocks * _tapSlots * _blockWidth;
        if (!CacheLines.Holds(_weightPartials, partials)) _weightPartials = CacheLines.Allocate<T>(partials);
        if (_tapWindows.Length != kk) _tapWindows = new DirectWeightGradient<T>.TapWindow[kk];
        int hp = g.OutHeight + g.KernelHeight - 1, wp = g.OutWidth + g.KernelWidth - 1;
        for (int k = 0, slot = 0; k < kk; k++)
        {
            int ki = k / g.KernelWidth, kj = k % g.KernelWidth;
            _tapWindows[k] = DirectWeightGradient<T>.TapWindow.Of(g, ki, kj);
            for (int c = 0; c < groups * step; c++, slot++)
            {
                _weightOffsets[slot] = c < g.Channels ? (c * hp + ki) * wp + kj : 0;
                _slotTaps[slot] = c < g.Channels ? c * kk + k : -1;
            }
        }
        _directWeights = true;
        try
        {
            Start(Pass.BackwardWeights, g, batch, x, dy, null, dw, parts: Math.Min(Threading.ThreadCount, _weightSampleParts * _weightBlocks));
            _reducingWeights = true;
            Start(Pass.BackwardWeights, g, batch, x, dy, null, dw, parts: Math.Min(Threading.ThreadCount, _weightBlocks));
        }
        finally { _directWeights = _reducingWeights = false; }
    }

    // The position-vector backward-weights pass in progress: blocks of Rows output channels, groups of Taps taps and their offsets.
    private bool _positionWeights;
    private int _positionBlocks, _tapGroups;
    private int[] _groupOffsets = [];

    private void StartPositionVectorWeights(in ConvGeometry g, int batch, T* x, T* dy, T* dw)
    {
        if (batch == 0) return;
        int rows = PositionVectorWeightGradient<T>.Rows, step = PositionVectorWeightGradient<T>.Taps, taps = g.Patch;
        _weightsKernel = Gemm.Kernel;
        _positionBlocks = (g.OutChannels + rows - 1) / rows;
        _tapGroups = (taps + step - 1) / step;
        if (_groupOffsets.Length != _tapGroups * step) _groupOffsets = GC.AllocateUninitializedArray<int>(_tapGroups * step, pinned: true);
        int hp = g.OutHeight + g.KernelHeight - 1, wp = g.OutWidth + g.KernelWidth - 1;
        for (int t = 0; t < _groupOffsets.Length; t++)
        {
            int c = t / (g.KernelHeight * g.KernelWidth), ki = t / g.KernelWidth % g.KernelHeight, kj = t % g.KernelWidth;
            _groupOffsets[t] = t < taps ? (c * hp + ki) * wp + kj : 0;   // the taps that round up read tap 0 and are dropped
        }
        _positionWeights = true;
        try { Start(Pass.BackwardWeights, g, batch, x, dy, null, dw, parts: Math.Min(Threading.ThreadCount, _positionBlocks)); }
        finally { _positionWeights = false; }
    }

    // dW rows of channel blocks [first, last) over the whole batch, sample by sample in order: lane-wise partial sums of
    // this thread's blocks, (blocks, tap groups, Rows·Taps, L), summed across their lanes into dW at the end.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void PositionVectorWeights(int part, int parts)
    {
        var g = _g;
        int first = (int)((long)_positionBlocks * part / parts), last = (int)((long)_positionBlocks * (part + 1) / parts);
        if (last == first) return;
        int rows = PositionVectorWeightGradient<T>.Rows, step = PositionVectorWeightGradient<T>.Taps, l = PositionVectorWeightGradient<T>.Lanes(_weightsKernel);
        int hp = g.OutHeight + g.KernelHeight - 1, wp = g.OutWidth + g.KernelWidth - 1, plane = g.OutputPlane, taps = g.Patch;
        int tile = rows * step * l;
        long paddedLength = (long)g.Channels * hp * wp + wp + l;   // the tail vectors of the last rows read past the last plane by less than that
        T* padded = Scratch.For(0, paddedLength);
        T* partial = Scratch.For(2, (long)(last - first) * _tapGroups * tile);   // (last − first, tap groups, Rows·Taps·L)
        new Span<T>(padded, (int)paddedLength).Clear();
        new Span<T>(partial, (last - first) * _tapGroups * tile).Clear();
        fixed (int* offsets = _groupOffsets)
            for (int n = 0; n < _batch; n++)
            {
                PadSample(_x + (nint)n * g.InputSize, g.Channels, g.Height, g.Width, padded, hp, wp, g.PadTop, g.PadLeft);
                T* gradient = _w + (nint)n * g.OutputSize;
                for (int block = first; block < last; block++)
                {
                    int o0 = block * rows, valid = Math.Min(rows, g.OutChannels - o0);
                    T* dy0 = gradient + (nint)o0 * plane;   // a block's missing channels repeat its first one and are dropped
                    T* dy1 = valid > 1 ? dy0 + plane : dy0, dy2 = valid > 2 ? dy0 + 2 * (nint)plane : dy0, dy3 = valid > 3 ? dy0 + 3 * (nint)plane : dy0;
                    for (int group = 0; group < _tapGroups; group++)
                        PositionVectorWeightGradient<T>.Tile(_weightsKernel, g.OutHeight, g.OutWidth, dy0, dy1, dy2, dy3, padded, wp, offsets + group * step,
                            partial + ((nint)(block - first) * _tapGroups + group) * tile);
                }
            }
        for (int block = first; block < last; block++)
        {
            int o0 = block * rows, valid = Math.Min(rows, g.OutChannels - o0);
            for (int group = 0; group < _tapGroups; group++)
            {
                T* sums = partial + ((nint)(block - first) * _tapGroups + group) * tile;
                for (int r = 0; r < valid; r++)
                    for (int j = 0; j < step && group * step + j < taps; j++)
                    {
                        T sum = T.Zero;
                        for (int lane = 0; lane < l; lane++) sum += sums[(r * step + j) * l + lane];
                        _y[(nint)(o0 + r) * taps + group * step + j] += sum;
                    }
            }
        }
    }

    // Items [first, last) of (sample part, channel block), part-major: for each sample part, its samples chunk by chunk in
    // order, each chunk padded once for the part's blocks of this thread; a block's sums over the part go to its partials.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void DirectWeights(int part, int parts)
    {
        var g = _g;
        int blocks = _weightBlocks, sampleParts = _weightSampleParts, items = sampleParts * blocks;
        int first = (int)((long)items * part / parts), last = (int)((long)items * (part + 1) / parts);
        if (last == first) return;
        int bw = _blockWidth, plane = g.OutputPlane, hp = g.OutHeight + g.KernelHeight - 1, wp = g.OutWidth + g.KernelWidth - 1;
        int chunk = _chunkSamples, slotsPerPosition = _tapSlots / _tapWindows.Length;   // a kernel position's channels, rounded up
        bool twelve = DirectWeightGradient<T>.HasTwelveTapTile(_weightsKernel);
        nint sampleStride = (nint)g.Channels * hp * wp;
        T* padded = Scratch.For(0, sampleStride * chunk);              // (chunk, C, Hp, Wp)
        T* transposed = Scratch.For(1, (long)chunk * plane * bw);      // (chunk, OH, OW, BW)
        T* partials = CacheLines.Start(_weightPartials);
        fixed (int* offsets = _weightOffsets)
            for (int samplePart = first / blocks; samplePart <= (last - 1) / blocks; samplePart++)
            {
                int firstBlock = Math.Max(first, samplePart * blocks) - samplePart * blocks, endBlock = Math.Min(last, (samplePart + 1) * blocks) - samplePart * blocks;
                int from = (int)((long)_batch * samplePart / sampleParts), to = (int)((long)_batch * (samplePart + 1) / sampleParts);
                for (int n = from; n < to; n += chunk)
                {
                    int count = Math.Min(chunk, to - n);
                    new Span<T>(padded, (int)(sampleStride * count)).Clear();
                    for (int s = 0; s < count; s++)
                        PadSample(_x + (nint)(n + s) * g.InputSize, g.Channels, g.Height, g.Width, padded + s * sampleStride, hp, wp, g.PadTop, g.PadLeft);
                    for (int block = firstBlock; block < endBlock; block++)
                    {
                        int o0 = block * bw, rows = Math.Min(bw, g.OutChannels - o0);
                        for (int s = 0; s < count; s++)
                            Transpose.Pack(_w + (nint)(n + s) * g.OutputSize + (nint)o0 * plane, plane, rows, plane, bw, transposed + (nint)s * plane * bw);
                        T* rowsOfBlock = partials + ((nint)samplePart * blocks + block) * _tapSlots * bw;
                        for (int t = 0, tileTaps = 0; t < _tapSlots; t += tileTaps)
                        {
                            // Twelve taps at a time where the path has the tile and the kernel position has them left, else six.
                            tileTaps = twelve && t % slotsPerPosition + DirectWeightGradient<T>.TwelveTaps <= slotsPerPosition ? DirectWeightGradient<T>.TwelveTaps : DirectWeightGradient<T>.Taps;
                            DirectWeightGradient<T>.Tile(_weightsKernel, tileTaps, count, sampleStride, g.OutHeight, g.OutWidth, wp, _tapWindows[t / slotsPerPosition], offsets + t,
                                padded, transposed, rowsOfBlock + (nint)t * bw, accumulate: n > from);
                        }
                    }
                }
            }
    }

    // dW rows of channel blocks [first, last): each element adds its sample parts' sums, in order of the parts.
    private void ReduceDirectWeights(int part, int parts)
    {
        var g = _g;
        int first = (int)((long)_weightBlocks * part / parts), last = (int)((long)_weightBlocks * (part + 1) / parts);
        int bw = _blockWidth, taps = g.Patch;
        nint partStride = (nint)_weightBlocks * _tapSlots * bw;
        T* partials = CacheLines.Start(_weightPartials);
        for (int block = first; block < last; block++)
        {
            int o0 = block * bw, rows = Math.Min(bw, g.OutChannels - o0);
            T* rowsOfBlock = partials + (nint)block * _tapSlots * bw;
            for (int lane = 0; lane < rows; lane++)
            {
                T* target = _y + (nint)(o0 + lane) * taps;
                for (int slot = 0; slot < _tapSlots; slot++)
                {
                    if (_slotTaps[slot] < 0) continue;
                    T* sums = rowsOfBlock + (nint)slot * bw + lane;
                    T sum = sums[0];
                    for (int samplePart = 1; samplePart < _weightSampleParts; samplePart++) sum += sums[samplePart * partStride];
                    target[_slotTaps[slot]] += sum;
                }
            }
        }
    }

    // Small planes make thin GEMMs (n = OH·OW of 16 or 64): so many samples share one GEMM, side by side in
    // its n, that n reaches about this width. Chosen from the geometry alone, never from the thread count.
    private const int TargetWidth = 256;

    /// <summary>Samples per GEMM for <paramref name="g"/>.</summary>
    internal static int SamplesPerGemm(in ConvGeometry g, int batch) => Math.Clamp((TargetWidth + g.OutputPlane - 1) / g.OutputPlane, 1, Math.Max(batch, 1));

    private static int Chunks(in ConvGeometry g, int batch) { int s = SamplesPerGemm(g, batch); return (batch + s - 1) / s; }

    private void Start(Pass pass, in ConvGeometry g, int batch, T* x, T* w, T* b, T* y, int parts)
    {
        if (batch == 0) return;
        (_pass, _g, _batch) = (pass, g, batch);
        _x = x; _w = w; _b = b; _y = y;
        try { WorkerTeam.Run(Math.Max(1, parts), this); }
        finally { _x = _w = _b = _y = null; }
    }

    // The direct pass in progress: what it reads (channels, planes, padding), what it writes, its taps and packed weights.
    private bool _direct;
    private int _inChannels, _inHeight, _inWidth, _padTop, _padLeft, _paddedHeight, _paddedWidth;
    private int _outChannels, _outHeight, _outWidth, _taps, _blocks, _positions, _positionsRounded;
    private int[] _offsets = [];   // (taps): where each tap reads, relative to the output position
    private T[] _packed = [];      // (blocks, taps, MR): the weights of MR output channels side by side, zero past the last
    private readonly int[][] _offsetsByPass = [[], []];   // forward's and backward-data's, kept apart so neither reallocates
    private readonly T[][] _packedByPass = [[], []];

    private void StartDirect(Pass pass, DirectKernel kernel, in ConvGeometry g, int batch, T* input, T* w, T* b, T* output)
    {
        if (batch == 0) return;
        int kh = g.KernelHeight, kw = g.KernelWidth;
        if (pass == Pass.Forward)
        {
            (_inChannels, _inHeight, _inWidth, _padTop, _padLeft) = (g.Channels, g.Height, g.Width, g.PadTop, g.PadLeft);
            (_outChannels, _outHeight, _outWidth) = (g.OutChannels, g.OutHeight, g.OutWidth);
        }
        else
        {
            // dx = conv(dy padded by K − 1 − pad, w flipped in space with in and out channels swapped)
            (_inChannels, _inHeight, _inWidth, _padTop, _padLeft) = (g.OutChannels, g.OutHeight, g.OutWidth, kh - 1 - g.PadTop, kw - 1 - g.PadLeft);
            (_outChannels, _outHeight, _outWidth) = (g.Channels, g.Height, g.Width);
        }
        _paddedWidth = _outWidth + kw - 1;
        _paddedHeight = _outHeight + kh - 1;
        _taps = _inChannels * kh * kw;
        _channelVector = kernel == DirectKernel.ChannelVector;
        _passKernel = Gemm.Kernel;
        int mr = _channelVector ? ChannelVectorConvolution<T>.BlockWidth(_passKernel, _outChannels) : DirectConvolution<T>.MR, nr = DirectConvolution<T>.NR(_passKernel);
        _blocks = (_outChannels + mr - 1) / mr;
        _positions = _outHeight * _paddedWidth;
        _positionsRounded = (_positions + nr - 1) / nr * nr;
        int slot = pass == Pass.Forward ? 0 : 1;
        if (_offsetsByPass[slot].Length != _taps) _offsetsByPass[slot] = GC.AllocateUninitializedArray<int>(_taps, pinned: true);
        _offsets = _offsetsByPass[slot];
        for (int c = 0, t = 0; c < _inChannels; c++)
            for (int ki = 0; ki < kh; ki++)
                for (int kj = 0; kj < kw; kj++, t++) _offsets[t] = (c * _paddedHeight + ki) * _paddedWidth + kj;
        if (!CacheLines.Holds(_packedByPass[slot], (long)_blocks * _taps * mr)) _packedByPass[slot] = CacheLines.Allocate<T>((long)_blocks * _taps * mr);
        _packed = _packedByPass[slot];
        T* packed = CacheLines.Start(_packed);
        if (pass == Pass.Forward) PackForward(w, packed, _blocks, _taps, mr, _outChannels);
        else PackFlipped(w, packed, _blocks, mr, g.Channels, _inChannels, kh * kw);
        int parts = Math.Min(Threading.ThreadCount, batch);
        if (_channelVector)
        {
            _chunkSamples = Math.Clamp(VectorChunkSamples(_outHeight * _outWidth, batch), 1, batch);
            _fullChunk = _fullChunkByPass[slot];
            _fullChunk.Build(_chunkSamples, _inChannels, _inHeight, _inWidth, _padTop, _padLeft, _outChannels, _outHeight, _outWidth, kh, kw, mr);
            _lastChunk = _lastChunkByPass[slot];
            if (batch % _chunkSamples != 0)
                _lastChunk.Build(batch % _chunkSamples, _inChannels, _inHeight, _inWidth, _padTop, _padLeft, _outChannels, _outHeight, _outWidth, kh, kw, mr);
            parts = Math.Min(Threading.ThreadCount, (batch + _chunkSamples - 1) / _chunkSamples);
        }
        else
        {
            int vectors = _positionsRounded / Vector256<T>.Count;
            if (_gridKindsByPass[slot].Length < vectors)
            {
                _gridKindsByPass[slot] = GC.AllocateUninitializedArray<int>(vectors, pinned: true);
                _gridTargetsByPass[slot] = GC.AllocateUninitializedArray<int>(vectors, pinned: true);
                _gridCountsByPass[slot] = GC.AllocateUninitializedArray<int>(vectors, pinned: true);
                _gridPermutationsByPass[slot] = GC.AllocateUninitializedArray<int>(vectors * 8, pinned: true);
            }
            (_gridKinds, _gridTargets, _gridCounts, _gridPermutations) = (_gridKindsByPass[slot], _gridTargetsByPass[slot], _gridCountsByPass[slot], _gridPermutationsByPass[slot]);
            DirectConvolution<T>.GridStores.Fill(vectors, _outHeight, _paddedWidth, _outWidth, _gridKinds, _gridTargets, _gridCounts, _gridPermutations);
        }
        _direct = true;
        try { Start(pass, g, batch, input, w, b, output, parts); }
        finally { _direct = false; }
    }

    // Forward's packed weights: (blocks, taps, MR), w (OC, taps) read a block's MR rows at a time, zero past the last
    // channel: a transposing copy per block, through vector registers. Element by element it took 0.5 ms of a 5 ms pass
    // on 3×3 planes (256 channels, batch 256, two threads), serially before any sample started; this way 0.2 ms.
    private static void PackForward(T* w, T* packed, int blocks, int taps, int mr, int outChannels)
    {
        for (int block = 0; block < blocks; block++)
        {
            int o0 = block * mr, rows = Math.Min(mr, outChannels - o0);
            Transpose.Pack(w + (nint)o0 * taps, taps, rows, taps, mr, packed + (nint)block * taps * mr);
        }
    }

    // Backward-data's packed weights: tap (k, ki', kj') of output channel o (an input channel of the layer) is
    // w[k, o, KH−1−ki', KW−1−kj'], the kernel flipped in space with in and out channels swapped (kk = KH·KW): per block
    // and k the same transposing copy of the block's rows of w[k], then its kk rows of MR values in reverse order.
    private static void PackFlipped(T* w, T* packed, int blocks, int mr, int channels, int outChannelsOfLayer, int kk)
    {
        int taps = outChannelsOfLayer * kk;
        Span<T> swap = stackalloc T[mr];
        for (int block = 0; block < blocks; block++)
        {
            int o0 = block * mr, rows = Math.Min(mr, channels - o0);
            T* target = packed + (nint)block * taps * mr;
            for (int k = 0; k < outChannelsOfLayer; k++, target += (nint)kk * mr)
            {
                Transpose.Pack(w + ((nint)k * channels + o0) * kk, kk, rows, kk, mr, target);
                for (int inner = 0; inner < kk / 2; inner++)
                {
                    var first = new Span<T>(target + (nint)inner * mr, mr);
                    var last = new Span<T>(target + (nint)(kk - 1 - inner) * mr, mr);
                    first.CopyTo(swap);
                    last.CopyTo(first);
                    swap.CopyTo(last);
                }
            }
        }
    }

    // The channel-vector pass: chunks of samples whose output positions number about this many (their position-major
    // product, positions × OC, stays in L2), and blocks of input channels whose packed weights (taps × BW) take at most
    // VectorChunkWeightBytes at the two-vector width (twice that for AVX-512's four-vector tile: see VectorChannelsPerBlock),
    // so that they stay in L1 beside the input lines while the block's tiles sweep the chunk.
    private const int VectorChunkPositions = 256;
    private const int VectorChunkWeightBytes = 16 << 10;

    // Input channels per block of the channel-vector pass, for kernelTaps taps per channel and blocks of blockWidth output
    // channels: as many as VectorChunkWeightBytes hold. A tap count instead (256) held 16 KB at AVX2's 16 float channels
    // but 32 KB at AVX-512's 32, which left the input no room in a 48 KB L1: on a Xeon (AVX-512, two threads, batch 256,
    // interleaved in one process against the 32 KB blocks) 16 KB blocks measured 11–17 % faster on 15×15 and 7×7 planes
    // forward and backward-data; on 3×3 planes mixed (+11 % forward, −13 % backward-data, within that machine's noise).
    // The pass sizes its blocks by the two-vector width even when it runs AVX-512's four-vector tile, whose weights then
    // take 32 KB: it broadcasts each input value for twice the lanes, and on Zen 5 (interleaved as above) keeping the
    // 14 channels read 0–7 % faster on 7×7 and 3×3 planes than halving them to 7, and even on 15×15.
    internal static int VectorChannelsPerBlock(int kernelTaps, int blockWidth) =>
        Math.Max(1, VectorChunkWeightBytes / (kernelTaps * blockWidth * Unsafe.SizeOf<T>()));
    private bool _channelVector;
    private GemmKernel _passKernel;   // the instruction set whose tiles the direct pass in progress runs

    // Samples per channel-vector chunk: about VectorChunkPositions positions, but no more than a batch's share of
    // VectorMinimumChunks (at batch 32 on 3×3 planes one chunk of 30 and one of 2 left the second thread idle, 0.38× the
    // peer; at batch 256 nine chunks split 4 + 5 between two threads, and sixteen of 18 samples measured 9 % faster),
    // then rounded up to a multiple of the tile's six positions once there are six or more, so that every tap
    // rectangle's positions (a multiple of the samples) fill whole tiles and no tile sums the union of two (on 3×3 planes,
    // 30 samples instead of 29 sum 6 % fewer taps). From the geometry and the batch alone, never from the thread count.
    internal static int VectorChunkSamples(int outPlane, int batch)
    {
        int samples = Math.Min((VectorChunkPositions + outPlane - 1) / outPlane, (batch + VectorMinimumChunks - 1) / VectorMinimumChunks);
        int step = ChannelVectorConvolution<T>.Positions;
        return Math.Max(1, samples < step ? samples : (samples + step - 1) / step * step);
    }

    // The fewest chunks a batch is cut into, where the planes allow: balanced work for a few threads, some work for up to this many.
    private const int VectorMinimumChunks = 16;

    private ChannelVectorPlan _fullChunk = new(), _lastChunk = new();   // the tiles of a chunk of _chunkSamples samples, and of the batch's last, smaller one
    private readonly ChannelVectorPlan[] _fullChunkByPass = [new(), new()], _lastChunkByPass = [new(), new()];

    // Samples [from, to) chunk by chunk: pad a chunk's inputs (channels-last on small planes: see ChannelVectorPlan), sum the tiles block of input channels by block, then gather the product into NCHW.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ChannelVectorSamples(int from, int to)
    {
        int bw = ChannelVectorConvolution<T>.BlockWidth(_passKernel, _outChannels), step = ChannelVectorConvolution<T>.Positions;
        int inPlane = _inHeight * _inWidth, outPlane = _outHeight * _outWidth;
        int channelsPerBlock = VectorChannelsPerBlock(_taps / _inChannels, ChannelVectorConvolution<T>.NarrowBlockWidth(_passKernel));
        bool channelsLast = _fullChunk.ChannelsLast;   // both plans of a pass share the plane, and with it the layout
        int positionStride = _fullChunk.PositionStride;
        nint sampleStride = _fullChunk.PaddedSampleLength;
        T* padded = Scratch.For(0, sampleStride * _chunkSamples);
        long roundedPositions = (long)_fullChunk.Tiles * step;
        T* product = Scratch.For(1, _blocks * roundedPositions * bw);   // (blocks, chunk positions rounded, BW)
        T* packed = CacheLines.Start(_packed);
        for (int n = from; n < to; n += _chunkSamples)
        {
            int count = Math.Min(_chunkSamples, to - n);
            var plan = count == _chunkSamples ? _fullChunk : _lastChunk;
            // Every chunk, not once per thread although the borders would stay zero: the sequential clear brings the
            // lines into cache before the scattered writes of the interior. Cleared once (here, in the padded grid's
            // pass and in backward-weights), 64→64 at 15 px read 127–158 against 159–182 GFLOP/s on Zen 3 in
            // alternating runs, and the whitening conv no faster.
            new Span<T>(padded, (int)(sampleStride * count)).Clear();
            for (int s = 0; s < count; s++)
                if (channelsLast) PadSampleChannelsLast(_x + (nint)(n + s) * _inChannels * inPlane, _inChannels, _inHeight, _inWidth, padded + s * sampleStride, _paddedWidth, positionStride, _padTop, _padLeft);
                else PadSample(_x + (nint)(n + s) * _inChannels * inPlane, _inChannels, _inHeight, _inWidth, padded + s * sampleStride, _paddedHeight, _paddedWidth, _padTop, _padLeft);
            fixed (int* bases = plan.Bases, tileTaps = plan.TileTaps, tilePairs = plan.TilePairs, pairs = plan.Pairs)
                for (int c0 = 0; c0 < _inChannels; c0 += channelsPerBlock)
                {
                    int channels = Math.Min(channelsPerBlock, _inChannels - c0);
                    for (int block = 0; block < _blocks; block++)
                    {
                        T* weights = packed + (nint)block * _taps * bw, rows = product + block * roundedPositions * bw;
                        for (int tile = 0; tile < plan.Tiles; tile++)
                            ChannelVectorConvolution<T>.Tile(_passKernel, bw, channels * tileTaps[tile], pairs + tilePairs[tile] + 2 * c0 * tileTaps[tile], weights, padded,
                                bases + tile * step, rows + (nint)tile * step * bw, accumulate: c0 > 0);
                    }
                }
            fixed (int* sources = plan.Sources)
                for (int block = 0; block < _blocks; block++)
                {
                    int o0 = block * bw, channels = Math.Min(bw, _outChannels - o0);
                    T* rows = product + block * roundedPositions * bw, bias = _b == null ? null : _b + o0;
                    for (int s = 0; s < count; s++)
                        ChannelVectorConvolution<T>.ToPlanes(_passKernel, rows, sources + s * outPlane, outPlane, channels,
                            _y + ((nint)(n + s) * _outChannels + o0) * outPlane, bias);
                }
        }
    }

    // The padded grid's pass over one sample: pad its input planes, then every tile of every block of MR output channels
    // straight into the output planes (bias added there).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void DirectSample(int n)
    {
        int mr = DirectConvolution<T>.MR, nr = DirectConvolution<T>.NR(_passKernel);
        int plane = _paddedHeight * _paddedWidth, inPlane = _inHeight * _inWidth, outPlane = _outHeight * _outWidth;
        long length = (long)_inChannels * plane + _positionsRounded - _positions + nr + _paddedWidth;   // reads run past the last plane by < that slack
        T* padded = Scratch.For(0, length);
        new Span<T>(padded, (int)length).Clear();
        T* output = _y + (nint)n * _outChannels * outPlane;
        PadSample(_x + (nint)n * _inChannels * inPlane, _inChannels, _inHeight, _inWidth, padded, _paddedHeight, _paddedWidth, _padTop, _padLeft);
        T* packed = CacheLines.Start(_packed);
        fixed (int* offsets = _offsets, kinds = _gridKinds, targets = _gridTargets, counts = _gridCounts, permutations = _gridPermutations)
        {
            var stores = new DirectConvolution<T>.GridStores(kinds, targets, counts, permutations);
            for (int block = 0; block < _blocks; block++)
            {
                int o0 = block * mr, rows = Math.Min(mr, _outChannels - o0);
                T* weights = packed + (nint)block * _taps * mr, planes = output + (nint)o0 * outPlane, bias = _b == null ? null : _b + o0;
                for (int q = 0; q < _positionsRounded; q += nr) DirectConvolution<T>.TileIntoPlanes(_passKernel, _taps, offsets, weights, padded, q, planes, rows, outPlane, stores, bias);
            }
        }
    }

    // Where the padded grid's vectors land in the output (see DirectConvolution.GridStores), by pass: forward's and backward-data's.
    private int[] _gridKinds = [], _gridTargets = [], _gridCounts = [], _gridPermutations = [];
    private readonly int[][] _gridKindsByPass = [[], []], _gridTargetsByPass = [[], []], _gridCountsByPass = [[], []], _gridPermutationsByPass = [[], []];

    public void Execute(int part, int parts)
    {
        var g = _g;
        if (_direct && _channelVector)
        {
            int vectorChunks = (_batch + _chunkSamples - 1) / _chunkSamples;
            int from = (int)((long)vectorChunks * part / parts) * _chunkSamples, to = Math.Min(_batch, (int)((long)vectorChunks * (part + 1) / parts) * _chunkSamples);
            if (to > from) ChannelVectorSamples(from, to);
            return;
        }
        if (_direct)
        {
            int from = (int)((long)_batch * part / parts), to = (int)((long)_batch * (part + 1) / parts);
            for (int n = from; n < to; n++) DirectSample(n);
            return;
        }
        if (_directWeights)
        {
            if (_reducingWeights) ReduceDirectWeights(part, parts);
            else DirectWeights(part, parts);
            return;
        }
        if (_positionWeights)
        {
            PositionVectorWeights(part, parts);
            return;
        }
        if (_pass == Pass.BackwardWeights)
        {
            int start = (int)((long)g.Patch * part / parts), end = (int)((long)g.Patch * (part + 1) / parts);
            if (end > start) BackwardWeights(g, start, end);
            return;
        }
        int size = SamplesPerGemm(g, _batch), chunks = (_batch + size - 1) / size;
        int first = (int)((long)chunks * part / parts), last = (int)((long)chunks * (part + 1) / parts);
        for (int chunk = first; chunk < last; chunk++)
        {
            int n = chunk * size, count = Math.Min(size, _batch - n);
            if (_pass == Pass.Forward)
            {
                if (count == 1) ForwardSample(g, n);
                else ForwardChunk(g, n, count);
            }
            else if (count == 1) BackwardDataSample(g, n);
            else BackwardDataChunk(g, n, count);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ForwardSample(in ConvGeometry g, int n)
    {
        int og = g.GroupOutChannels, patch = g.Patch, plane = g.OutputPlane;
        T* x = _x + (nint)n * g.InputSize, y = _y + (nint)n * g.OutputSize;
        T* columns = g.IsPointwise ? null : Scratch.For(0, (long)patch * plane);
        T beta = T.Zero;
        if (_b != null)
        {
            for (int o = 0; o < g.OutChannels; o++) new Span<T>(y + (nint)o * plane, plane).Fill(_b[o]);   // the bias enters as C, beta 1
            beta = T.One;
        }
        for (int group = 0; group < g.Groups; group++)
        {
            T* image = x + (nint)group * g.GroupChannels * g.InputPlane;
            if (columns != null) Im2Col.Gather(g, image, 0, patch, columns, plane);
            Gemm.MultiplyOnThisThread(og, plane, patch, T.One, _w + (nint)group * og * patch, patch, false,
                columns != null ? columns : image, plane, false, beta, y + (nint)group * og * plane, plane);   // (OC/G, patch)·(patch, plane)
        }
    }

    // Samples n..n+count−1 in one GEMM per group: their column matrices side by side, (patch, count·plane).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ForwardChunk(in ConvGeometry g, int n, int count)
    {
        int og = g.GroupOutChannels, patch = g.Patch, plane = g.OutputPlane, width = count * plane;
        T* columns = Scratch.For(0, (long)patch * width), product = Scratch.For(1, (long)og * width);
        for (int group = 0; group < g.Groups; group++)
        {
            for (int j = 0; j < count; j++)
                Im2Col.Gather(g, _x + (nint)(n + j) * g.InputSize + (nint)group * g.GroupChannels * g.InputPlane, 0, patch, columns + j * plane, width);
            Gemm.MultiplyOnThisThread(og, width, patch, T.One, _w + (nint)group * og * patch, patch, false, columns, width, false, T.Zero, product, width);
            for (int j = 0; j < count; j++)
                for (int o = 0; o < og; o++)
                {
                    int channel = group * og + o;
                    var source = new ReadOnlySpan<T>(product + (nint)o * width + j * plane, plane);
                    var target = new Span<T>(_y + (nint)(n + j) * g.OutputSize + (nint)channel * plane, plane);
                    if (_b == null) source.CopyTo(target);
                    else System.Numerics.Tensors.TensorPrimitives.Add(source, _b[channel], target);
                }
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
        T* columns = Scratch.For(0, (long)patch * plane);
        new Span<T>(dx, g.InputSize).Clear();
        for (int group = 0; group < g.Groups; group++)
        {
            Gemm.MultiplyOnThisThread(patch, plane, og, T.One, _w + (nint)group * og * patch, patch, true,
                dy + (nint)group * og * plane, plane, false, T.Zero, columns, plane);   // (patch, OC/G)·(OC/G, plane)
            Im2Col.ScatterAdd(g, columns, plane, dx + (nint)group * g.GroupChannels * g.InputPlane);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void BackwardDataChunk(in ConvGeometry g, int n, int count)
    {
        int og = g.GroupOutChannels, patch = g.Patch, plane = g.OutputPlane, width = count * plane;
        T* columns = Scratch.For(0, (long)patch * width), gradients = Scratch.For(1, (long)og * width);
        for (int j = 0; j < count; j++) new Span<T>(_y + (nint)(n + j) * g.InputSize, g.InputSize).Clear();
        for (int group = 0; group < g.Groups; group++)
        {
            SideBySide(g, _x, n, count, group, gradients);
            Gemm.MultiplyOnThisThread(patch, width, og, T.One, _w + (nint)group * og * patch, patch, true, gradients, width, false, T.Zero, columns, width);
            for (int j = 0; j < count; j++)
                Im2Col.ScatterAdd(g, columns + j * plane, width, _y + (nint)(n + j) * g.InputSize + (nint)group * g.GroupChannels * g.InputPlane);
        }
    }

    // dW[:, start..end) of every group, summing over the samples (chunk by chunk) in order.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void BackwardWeights(in ConvGeometry g, int start, int end)
    {
        int og = g.GroupOutChannels, patch = g.Patch, plane = g.OutputPlane, columnsWide = end - start;
        int size = SamplesPerGemm(g, _batch);
        T* columns = size == 1 && g.IsPointwise ? null : Scratch.For(0, (long)columnsWide * plane * size);
        T* gradients = size == 1 ? null : Scratch.For(1, (long)og * plane * size);
        for (int n = 0; n < _batch; n += size)
        {
            int count = Math.Min(size, _batch - n), width = count * plane;
            for (int group = 0; group < g.Groups; group++)
            {
                T* rows = _x + (nint)n * g.InputSize + (nint)group * g.GroupChannels * g.InputPlane + (nint)start * plane;   // pointwise: input planes
                T* dy = _w + (nint)n * g.OutputSize + (nint)group * og * plane;
                if (columns != null)
                {
                    for (int j = 0; j < count; j++)
                        Im2Col.Gather(g, _x + (nint)(n + j) * g.InputSize + (nint)group * g.GroupChannels * g.InputPlane, start, end, columns + j * plane, width);
                    rows = columns;
                }
                if (count > 1)
                {
                    SideBySide(g, _w, n, count, group, gradients);
                    dy = gradients;
                }
                Gemm.MultiplyOnThisThread(og, columnsWide, width, T.One, dy, width, false,
                    rows, width, true, T.One, _y + (nint)group * og * patch + start, patch);   // (OC/G, width)·(width, end − start)
            }
        }
    }

    // One sample's (channels, height, width) planes into the interior of zero-padded (channels, paddedHeight, paddedWidth)
    // planes, from row padTop and column padLeft: the border stays as it is (zero, cleared by the caller).
    private static void PadSample(T* image, int channels, int height, int width, T* padded, int paddedHeight, int paddedWidth, int padTop, int padLeft)
    {
        for (int c = 0; c < channels; c++)
            for (int h = 0; h < height; h++)
                new ReadOnlySpan<T>(image + ((nint)c * height + h) * width, width)
                    .CopyTo(new Span<T>(padded + ((nint)c * paddedHeight + h + padTop) * paddedWidth + padLeft, width));
    }

    // One sample's (channels, height, width) planes into the interior of zero-padded (paddedHeight, paddedWidth, channels)
    // channels-last, from row padTop and column padLeft; the border stays as it is (zero, cleared by the caller). Position by
    // position, so that the writes run along the channels and the reads, one per plane, stay within the sample's few lines.
    // (A transposing copy through vector registers was 6× faster on a sample in cache, and no faster in the pass, whose
    // time here goes to bringing the input in.)
    private static void PadSampleChannelsLast(T* image, int channels, int height, int width, T* padded, int paddedWidth, int positionStride, int padTop, int padLeft)
    {
        nint plane = (nint)height * width;
        for (int h = 0; h < height; h++)
            for (int w = 0; w < width; w++)
            {
                T* source = image + (nint)h * width + w, target = padded + ((nint)(h + padTop) * paddedWidth + w + padLeft) * positionStride;
                for (int c = 0; c < channels; c++) target[c] = source[c * plane];
            }
    }

    // The group's output-gradient planes of samples n..n+count−1 side by side: (OC/G, count·plane).
    private static void SideBySide(in ConvGeometry g, T* dy, int n, int count, int group, T* target)
    {
        int og = g.GroupOutChannels, plane = g.OutputPlane, width = count * plane;
        for (int j = 0; j < count; j++)
            for (int o = 0; o < og; o++)
                new ReadOnlySpan<T>(dy + (nint)(n + j) * g.OutputSize + (nint)(group * og + o) * plane, plane)
                    .CopyTo(new Span<T>(target + (nint)o * width + j * plane, plane));
    }

    // Three pinned buffers per thread (column matrix or padded planes, side-by-side or transposed planes, partial dW), grown to
    // the largest asked for and then reused, each used from its first cache-line boundary (see CacheLines).
    private static class Scratch
    {
        [ThreadStatic] private static T[]? _first;
        [ThreadStatic] private static T[]? _second;
        [ThreadStatic] private static T[]? _third;

        public static T* For(int slot, long length)
        {
            ref T[]? buffer = ref (slot == 0 ? ref _first : ref (slot == 1 ? ref _second : ref _third));
            if (!CacheLines.Holds(buffer, length)) buffer = CacheLines.Allocate<T>(length);
            return CacheLines.Start(buffer!);
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
