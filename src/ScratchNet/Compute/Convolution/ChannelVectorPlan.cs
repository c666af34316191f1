namespace ScratchNet.Compute;

/// <summary>
/// How <see cref="ChannelVectorConvolution{T}"/> tiles one chunk of samples so that no tile sums a tap that lies in the
/// padding of every one of its positions. An output position near the border reads padded zeros under some kernel rows
/// and columns: its valid taps form a rectangle [kiLo, kiHi) × [kjLo, kjHi) of the kernel. The chunk's positions are
/// ordered by that rectangle (then by position), tiles take six consecutive positions, and each tile sums, for every
/// input channel, only the taps of the union of its positions' rectangles; the taps it skips are zeros for all six, so
/// the sums are the same as over every tap. On 3×3 planes under a 3×3 kernel with padding 1 that skips 40 % of the
/// products (49 of 81 taps per plane remain), on 7×7 planes 18 %.
/// On small planes (<see cref="ChannelsLastBelow"/>) the offsets address the padded input channels-last,
/// (samples, OH + KH − 1, OW + KW − 1, C + slack): there a tile's six positions belong to six samples (on 3×3 planes each
/// sample has one position per rectangle), and with channel planes each of them reads its own cache lines in every
/// channel plane, while channels-last it reads runs of consecutive channels that the next channels' taps reuse.
/// Elsewhere the six positions mostly share a row of one sample, and channel planes serve them from the same lines.
/// </summary>
/// <remarks>
/// Built from the geometry and the chunk's sample count alone (never from the thread count), once per pass and chunk
/// size (a call with the arguments of the plan held keeps it), into arrays that only grow: a warm call allocates nothing.
/// Each output element still sums its taps in order (channel, kernel row, kernel column) from zero on one thread.
/// </remarks>
internal sealed class ChannelVectorPlan
{
    /// <summary>Output positions of the chunk, samples × OH·OW.</summary>
    public int Positions { get; private set; }

    /// <summary>Tiles of <see cref="ChannelVectorConvolution{T}.Positions"/> positions: the last repeats its final position to fill up.</summary>
    public int Tiles { get; private set; }

    /// <summary>Whether the padded input is channels-last (see the class remarks), one position every <see cref="PositionStride"/> values; else channel planes.</summary>
    public bool ChannelsLast { get; private set; }

    /// <summary>Channels-last: values from one padded input position to the next (see <see cref="StrideFor"/>). Channel planes: 1.</summary>
    public int PositionStride { get; private set; }

    /// <summary>Values per padded sample in either layout: the padded plane's positions times the channels, with the channels-last slack.</summary>
    public int PaddedSampleLength { get; private set; }

    /// <summary>(tiles·6): where each slot reads its padded input at tap (0, 0, 0), relative to the chunk's padded samples.</summary>
    public int[] Bases { get; private set; } = [];

    /// <summary>
    /// (positions): for each output position of the chunk in NCHW order, sample by sample (s·OH·OW + oh·OW + ow), where its
    /// channels start in a block's position-major product: its slot times the block width.
    /// </summary>
    public int[] Sources { get; private set; } = [];

    /// <summary>(tiles): the taps per input channel the tile sums.</summary>
    public int[] TileTaps { get; private set; } = [];

    /// <summary>(tiles): where the tile's (input offset, weight offset) pairs for input channel 0 start in <see cref="Pairs"/>; channel c's follow at 2·c·<see cref="TileTaps"/>.</summary>
    public int[] TilePairs { get; private set; } = [];

    /// <summary>For each distinct rectangle, channel by channel, its taps as (offset into the padded input, offset into the block's packed weights).</summary>
    public int[] Pairs { get; private set; } = [];

    private (int, int, int, int, int, int, int, int, int, int, int, int)? _built;   // the arguments of the plan held, if any
    private long[] _keys = [];
    private int[] _rectangles = [];   // (distinct rectangles found so far): their packed bounds, to look up a tile's
    private int[] _starts = [];       // and where their pairs start

    /// <summary>
    /// Plans <paramref name="samples"/> samples of a stride-1 direct pass that reads <paramref name="channels"/> input planes
    /// of (<paramref name="height"/>, <paramref name="width"/>), zero-padded by <paramref name="padTop"/> and
    /// <paramref name="padLeft"/> into planes of (OH + KH − 1, OW + KW − 1), or channels-last on small planes, and writes <paramref name="outChannels"/>
    /// planes of (<paramref name="outHeight"/>, <paramref name="outWidth"/>); weights packed (taps, <paramref name="blockWidth"/>).
    /// </summary>
    public void Build(int samples, int channels, int height, int width, int padTop, int padLeft,
        int outChannels, int outHeight, int outWidth, int kernelHeight, int kernelWidth, int blockWidth)
    {
        // A layer calls with the same arguments every step: the plan it has is the plan. (On 3×3 planes, 256 channels, batch
        // 256, building both chunks' plans again took about 0.3 ms of a 5 ms pass on two threads, serially.)
        var arguments = (samples, channels, height, width, padTop, padLeft, outChannels, outHeight, outWidth, kernelHeight, kernelWidth, blockWidth);
        if (_built == arguments) return;
        _built = null;   // a build cut short by an exception leaves no stale plan behind
        const int step = 6;
        int outPlane = outHeight * outWidth, paddedHeight = outHeight + kernelHeight - 1, paddedWidth = outWidth + kernelWidth - 1;
        ChannelsLast = outPlane < ChannelsLastBelow;
        int stride = ChannelsLast ? StrideFor(channels) : 1;
        PositionStride = stride;
        PaddedSampleLength = paddedHeight * paddedWidth * (ChannelsLast ? stride : channels);
        int positions = samples * outPlane, tiles = (positions + step - 1) / step;
        Positions = positions;
        Tiles = tiles;
        Bases = Grow(Bases, tiles * step);
        Sources = Grow(Sources, positions);
        TileTaps = Grow(TileTaps, tiles);
        TilePairs = Grow(TilePairs, tiles);
        if (_keys.Length < positions) _keys = new long[positions];

        // Order the positions by their rectangle, then by position: the key packs both, so a plain sort is deterministic.
        for (int p = 0; p < positions; p++) _keys[(long)p] = (long)Rectangle(p % outPlane / outWidth, p % outWidth) * positions + p;
        Array.Sort(_keys, 0, positions);

        int distinct = 0, pairsLength = 0;
        for (int tile = 0; tile < tiles; tile++)
        {
            int kiLo = kernelHeight, kiHi = 0, kjLo = kernelWidth, kjHi = 0;
            for (int j = 0; j < step; j++)
            {
                int slot = tile * step + j, p = (int)(_keys[Math.Min(slot, positions - 1)] % positions);
                int s = p / outPlane, oh = p % outPlane / outWidth, ow = p % outWidth;
                Bases[slot] = ChannelsLast ? ((s * paddedHeight + oh) * paddedWidth + ow) * stride : (s * channels * paddedHeight + oh) * paddedWidth + ow;
                if (slot < positions) Sources[p] = slot * blockWidth;
                var (lo, hi) = Valid(oh, padTop, height, kernelHeight);
                (kiLo, kiHi) = (Math.Min(kiLo, lo), Math.Max(kiHi, hi));
                (lo, hi) = Valid(ow, padLeft, width, kernelWidth);
                (kjLo, kjHi) = (Math.Min(kjLo, lo), Math.Max(kjHi, hi));
            }
            int bounds = ((kiLo * (kernelHeight + 1) + kiHi) * (kernelWidth + 1) + kjLo) * (kernelWidth + 1) + kjHi;
            int found = Array.IndexOf(_rectangles, bounds, 0, distinct);
            int tapsPerChannel = (kiHi - kiLo) * (kjHi - kjLo);
            if (found < 0)
            {
                if (_rectangles.Length == distinct)
                {
                    Array.Resize(ref _rectangles, Math.Max(4, 2 * distinct));
                    Array.Resize(ref _starts, _rectangles.Length);
                }
                _rectangles[distinct] = bounds;
                _starts[distinct++] = pairsLength;
                Pairs = GrowKeeping(Pairs, pairsLength, pairsLength + 2 * channels * tapsPerChannel);
                for (int c = 0; c < channels; c++)
                    for (int ki = kiLo; ki < kiHi; ki++)
                        for (int kj = kjLo; kj < kjHi; kj++)
                        {
                            Pairs[pairsLength++] = ChannelsLast ? (ki * paddedWidth + kj) * stride + c : (c * paddedHeight + ki) * paddedWidth + kj;
                            Pairs[pairsLength++] = ((c * kernelHeight + ki) * kernelWidth + kj) * blockWidth;
                        }
            }
            TilePairs[tile] = _starts[found < 0 ? distinct - 1 : found];
            TileTaps[tile] = tapsPerChannel;
        }

        _built = arguments;

        int Rectangle(int oh, int ow)
        {
            var (kiLo, kiHi) = Valid(oh, padTop, height, kernelHeight);
            var (kjLo, kjHi) = Valid(ow, padLeft, width, kernelWidth);
            return ((kiLo * (kernelHeight + 1) + kiHi) * (kernelWidth + 1) + kjLo) * (kernelWidth + 1) + kjHi;
        }
    }

    /// <summary>
    /// Output planes of fewer positions than this take the channels-last padded input. Measured (bench conv, 256 channels,
    /// batch 256): 3×3 planes 10–20 % faster channels-last, 7×7 even, 15×15 (64 channels) 10 % slower.
    /// </summary>
    public const int ChannelsLastBelow = 16;

    /// <summary>
    /// Values from one channels-last padded position to the next: the channels, and 8 more where they fill whole cache
    /// lines, so that the positions a tile reads (whose offsets differ by multiples of this) do not all fall in the same
    /// few L1 sets: 256 channels read at a 1 KB stride measured slower than with channel planes, at 1,056 bytes faster.
    /// </summary>
    private static int StrideFor(int channels) => channels % 16 == 0 ? channels + 8 : channels;

    // The kernel rows (or columns) [lo, hi) whose input row at output row o lies inside the image rather than in its padding.
    private static (int Lo, int Hi) Valid(int o, int pad, int size, int kernel) => (Math.Max(0, pad - o), Math.Min(kernel, pad + size - o));

    private static int[] Grow(int[] array, int length) => array.Length >= length ? array : GC.AllocateUninitializedArray<int>(length, pinned: true);

    private static int[] GrowKeeping(int[] array, int used, int length)
    {
        if (array.Length >= length) return array;
        var grown = GC.AllocateUninitializedArray<int>(Math.Max(length, 2 * array.Length), pinned: true);
        Array.Copy(array, grown, used);
        return grown;
    }
}
