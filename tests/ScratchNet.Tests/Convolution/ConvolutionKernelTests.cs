using System.Globalization;
using System.Numerics;
using ScratchNet.Compute;
using ScratchNet.Layers;
using ScratchNet.Tests.Compute;

namespace ScratchNet.Tests.Convolution;

/// <summary>
/// The GEMM-based convolution (forward, backward-data, backward-weights) against its seven-loop reference, on every
/// GEMM micro-kernel this machine runs, over geometries that cross the kernels' tails (odd planes, strides, paddings,
/// asymmetric "same" padding, groups, the pointwise shortcut); and bit-identical for 1 and 2 threads.
/// </summary>
[Collection(GlobalStateCollection.Name)]
[Trait("Category", "Kernels")]
public class ConvolutionKernelTests
{
    public static TheoryData<GemmKernel> SupportedKernels()
    {
        var data = new TheoryData<GemmKernel>();
        foreach (var kernel in Enum.GetValues<GemmKernel>().Where(Gemm.IsSupported)) data.Add(kernel);
        return data;
    }

    // (C, H, W, OC, groups, KH, KW, SH, SW, top, left, bottom, right)
    private static readonly int[][] Geometries =
    [
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0],
        [3, 5, 7, 4, 1, 3, 3, 1, 1, 1, 1, 1, 1],
        [3, 7, 5, 6, 1, 3, 2, 2, 1, 0, 1, 0, 1],
        [4, 9, 9, 8, 2, 3, 3, 2, 2, 1, 1, 1, 1],
        [5, 6, 6, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1],     // depthwise
        [6, 4, 4, 10, 1, 1, 1, 1, 1, 0, 0, 0, 0],    // pointwise
        [6, 4, 4, 9, 3, 1, 1, 1, 1, 0, 0, 0, 0],     // pointwise, grouped
        [3, 8, 8, 24, 1, 2, 2, 1, 1, 0, 0, 0, 0],    // airbench's whitening conv, smaller
        [2, 6, 5, 3, 1, 4, 4, 1, 1, 1, 1, 2, 2],     // "same" for an even kernel
        [3, 11, 13, 17, 1, 5, 3, 3, 2, 2, 0, 2, 0],
        [16, 12, 12, 33, 1, 3, 3, 1, 1, 1, 1, 1, 1], // wide enough for whole micro-tiles and their tails
        [2, 3, 3, 2, 1, 3, 3, 1, 1, 2, 2, 2, 2],     // padding wider than the image's border taps
        [3, 17, 16, 5, 1, 3, 3, 1, 1, 1, 1, 1, 1],   // a plane of 272: one sample per GEMM
        [4, 16, 16, 6, 2, 1, 1, 1, 1, 0, 0, 0, 0],   // pointwise at one sample per GEMM, grouped
    ];

    [Fact]
    public void SmallPlanesShareAGemmAndLargeOnesDoNot()
    {
        Assert.Equal(1, Convolution<float>.SamplesPerGemm(Geometry([3, 17, 16, 5, 1, 3, 3, 1, 1, 1, 1, 1, 1]), 8));
        Assert.Equal(2, Convolution<float>.SamplesPerGemm(Geometry([16, 12, 12, 33, 1, 3, 3, 1, 1, 1, 1, 1, 1]), 3));
        Assert.Equal(3, Convolution<float>.SamplesPerGemm(Geometry([1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]), 3));
    }

    [Theory]
    [MemberData(nameof(SupportedKernels))]
    public void EveryGeometryMatchesTheReference_Float(GemmKernel kernel) => EveryGeometry<float>(kernel, 2e-4);   // sums of a few hundred float products

    [Theory]
    [MemberData(nameof(SupportedKernels))]
    public void EveryGeometryMatchesTheReference_Double(GemmKernel kernel) => EveryGeometry<double>(kernel, 1e-12);

    // Every output width 1..20 at kernel widths 1..3 and strides 1..2: each plane length crosses the micro-kernel's column tails.
    [Theory]
    [MemberData(nameof(SupportedKernels))]
    public void EveryPlaneTailMatchesTheReference(GemmKernel kernel)
    {
        var saved = Gemm.Kernel;
        try
        {
            Gemm.Kernel = kernel;
            for (int width = 1; width <= 20; width++)
                for (int k = 1; k <= 3; k++)
                    for (int s = 1; s <= 2; s++)
                    {
                        if (width + 2 < k) continue;
                        Check<double>(new ConvGeometry(2, 3, width, 7, 1, k, k, s, s, 1, 1,
                            (int)ConvGeometry.OutputLength(3, k, s, 1, 1), (int)ConvGeometry.OutputLength(width, k, s, 1, 1)), batch: 2, 1e-12, $"{kernel} W={width} k={k} s={s}");
                    }
        }
        finally { Gemm.Kernel = saved; }
    }

    // Tap counts 0..40 with random offsets: the padded grid's tile, on one grid row of NR positions with none dropped (every
    // vector stored whole), against its scalar twin.
    [Theory]
    [MemberData(nameof(GridTileKernels))]
    public unsafe void TheDirectMicroKernelMatchesItsScalarReference(GemmKernel kernel)
    {
        if (!DirectConvolution<float>.Supports(kernel)) return;   // the column-matrix path serves such machines (see UsesDirect)
        TileMatches<float>(kernel, 1e-5);
        TileMatches<double>(kernel, 1e-13);
    }

    public static TheoryData<GemmKernel> GridTileKernels()
    {
        var data = new TheoryData<GemmKernel>();
        foreach (var kernel in new[] { GemmKernel.Avx512, GemmKernel.Avx2 }.Where(k => Gemm.IsSupported(k) && DirectConvolution<float>.Supports(k))) data.Add(kernel);
        if (data.Count == 0) data.Add(GemmKernel.Scalar);   // no padded grid here: the test returns at once
        return data;
    }

    private static unsafe void TileMatches<T>(GemmKernel kernel, double tolerance) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Rng(12);
        int mr = DirectConvolution<T>.MR, nr = DirectConvolution<T>.NR(kernel), vectors = nr / System.Runtime.Intrinsics.Vector256<T>.Count;
        int[] kinds = new int[vectors], targets = new int[vectors], counts = new int[vectors], permutations = new int[vectors * 8];
        DirectConvolution<T>.GridStores.Fill(vectors, 1, nr, nr, kinds, targets, counts, permutations);
        for (int taps = 0; taps <= 40; taps++)
        {
            int[] offsets = [.. Enumerable.Range(0, taps).Select(_ => rng.NextInt(64))];
            T[] w = Random<T>(rng, taps * mr), x = Random<T>(rng, 64 + nr), y = new T[mr * nr], expected = new T[y.Length];
            fixed (int* o = offsets, pk = kinds, pt = targets, pc = counts, pp = permutations)
            fixed (T* pw = w, px = x, py = y, pe = expected)
            {
                DirectConvolution<T>.TileIntoPlanes(kernel, taps, o, pw, px, 0, py, mr, nr, new DirectConvolution<T>.GridStores(pk, pt, pc, pp), null);
                DirectConvolution<T>.ReferenceTile(nr, taps, o, pw, px, pe, nr);
            }
            Compare($"{kernel} {typeof(T).Name} tile taps={taps}", expected, y, tolerance);
        }
    }

    // Nine channel counts in a row cross the direct kernel's MR = 4 rows in both passes; plane widths 1..27 its NR positions
    // (and the vectors that span two or more grid rows, or end at the plane's last position); paddings 0..K−1; with a bias.
    // Both direct kernels: the one DirectPath chooses, then the padded grid forced.
    [Fact]
    public void TheDirectPathCoversEveryChannelAndPositionTail()
    {
        if (!DirectConvolution<float>.IsSupported) return;
        try
        {
            foreach (var forced in new Convolution<float>.DirectKernel?[] { null, Convolution<float>.DirectKernel.PaddedGrid })
            {
                Convolution<float>.DirectOverride = forced;
                Convolution<double>.DirectOverride = (Convolution<double>.DirectKernel?)(int?)forced;
                foreach (int oc in Enumerable.Range(Convolution<float>.DirectMinimumChannels(Gemm.Kernel), 9))
                    foreach (int width in new[] { 1, 2, 5, 8, 11, 16, 23, 27 })
                        foreach (var (k, pad) in new[] { (1, 0), (3, 1), (3, 0), (3, 2), (2, 0), (5, 2) })
                        {
                            if (width + 2 * pad < k) continue;
                            var g = Geometry([oc + 1, 4, width, oc, 1, k, k, 1, 1, pad, pad, pad, pad]);
                            bool avx = Gemm.Kernel is GemmKernel.Avx2 or GemmKernel.Avx512;
                            Assert.True(!avx || Convolution<float>.UsesDirect(g, backwardData: false) && Convolution<float>.UsesDirect(g, backwardData: true), $"{g} takes the direct path");
                            Check<float>(g, batch: 2, 2e-4, $"direct {forced} oc={oc} W={width} k={k} pad={pad}");
                            Check<double>(g, batch: 2, 1e-12, $"direct {forced} oc={oc} W={width} k={k} pad={pad}");
                        }
            }
        }
        finally
        {
            Convolution<float>.DirectOverride = null;
            Convolution<double>.DirectOverride = null;
        }
    }

    // Rows 1..3 of widths 1..20 (every tail of the masked last vector of 8 or 16 lanes), reading input offsets 0..8, accumulating onto what is
    // there, with NaN in every input element that no valid position reads.
    [Theory]
    [MemberData(nameof(GridTileKernels))]
    public unsafe void ThePositionVectorWeightTileMatchesItsScalarReference(GemmKernel kernel)
    {
        if (!PositionVectorWeightGradient<float>.Supports(kernel)) return;
        PositionVectorTileMatches<float>(kernel, 1e-5);
        PositionVectorTileMatches<double>(kernel, 1e-13);
    }

    private static unsafe void PositionVectorTileMatches<T>(GemmKernel kernel, double tolerance) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Rng(44);
        int lanes = PositionVectorWeightGradient<T>.Lanes(kernel), tile = PositionVectorWeightGradient<T>.Rows * PositionVectorWeightGradient<T>.Taps * lanes;
        foreach (int height in new[] { 1, 2, 3 })
            foreach (int width in Enumerable.Range(1, 20))
            {
                int stride = width + 2, plane = height * width;
                int[] offsets = [rng.NextInt(9), rng.NextInt(9), rng.NextInt(9)];
                T[] dy = Random<T>(rng, 4 * plane), x = new T[height * stride + 9 + lanes], partial = Random<T>(rng, tile), expected = (T[])partial.Clone();
                x.AsSpan().Fill(T.NaN);   // what the masked tail vectors load past a row must add nothing, not even a NaN
                var values = Random<T>(rng, x.Length);
                foreach (int offset in offsets)
                    for (int h = 0; h < height; h++)
                        for (int ow = 0; ow < width; ow++) x[h * stride + offset + ow] = values[h * stride + offset + ow];
                fixed (int* o = offsets)
                fixed (T* pd = dy, px = x, pp = partial, pe = expected)
                {
                    PositionVectorWeightGradient<T>.Tile(kernel, height, width, pd, pd + plane, pd + 2 * plane, pd + 3 * plane, px, stride, o, pp);
                    PositionVectorWeightGradient<T>.ReferenceTile(lanes, height, width, pd, pd + plane, pd + 2 * plane, pd + 3 * plane, px, stride, o, pe);
                }
                Compare($"{kernel} {typeof(T).Name} position-vector dW tile {height}x{width}", expected, partial, tolerance);
            }
    }

    // Kernels of at most 16 taps take the position-vector backward-weights: channel counts across its blocks of 4, tap
    // counts across its groups of 3 (1, 4, 9, 12, 16), plane widths across its vectors, 1 and 2 threads alike.
    [Fact]
    public void ThePositionVectorWeightPathCoversEveryChannelTapAndWidthTail()
    {
        if (!PositionVectorWeightGradient<float>.Supports(Gemm.Kernel)) return;
        foreach (int oc in new[] { 1, 3, 4, 6, 9 })
            foreach (var (c, k, pad) in new[] { (1, 1, 0), (1, 2, 0), (1, 3, 1), (3, 2, 0), (4, 2, 1), (16, 1, 0) })
                foreach (int width in new[] { 1, 5, 8, 13, 17 })
                {
                    if (width + 2 * pad < k) continue;
                    var g = Geometry([c, 3, width, oc, 1, k, k, 1, 1, pad, pad, pad, pad]);
                    Assert.True(Convolution<float>.UsesPositionVectorWeights(g), $"{g} takes the position-vector backward-weights");
                    Check<float>(g, batch: 3, 2e-4, $"position-vector dW oc={oc} c={c} k={k} W={width}");
                    Check<double>(g, batch: 3, 1e-12, $"position-vector dW oc={oc} c={c} k={k} W={width}");
                    var one = Run<float>(g, 3, threads: 1);
                    var two = Run<float>(g, 3, threads: 2);
                    Assert.True(one[2].AsSpan().SequenceEqual(two[2]), $"{g}: dW differs between 1 and 2 threads");
                }
    }

    // The padded grid's store into NCHW planes against the reference tile on a dense grid copied out row by row: every grid
    // width 1..20 with 0..3 dropped columns, every tile position of a 5-row plane, 1..4 rows, with and without a bias.
    [Theory]
    [MemberData(nameof(GridTileKernels))]
    public unsafe void TheDirectTileIntoPlanesMatchesTheReferenceTileCopiedOut(GemmKernel kernel)
    {
        if (!DirectConvolution<float>.Supports(kernel)) return;
        TileIntoPlanesMatches<float>(kernel, 1e-5);
        TileIntoPlanesMatches<double>(kernel, 1e-13);
    }

    private static unsafe void TileIntoPlanesMatches<T>(GemmKernel kernel, double tolerance) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Rng(21);
        int mr = DirectConvolution<T>.MR, nr = DirectConvolution<T>.NR(kernel), taps = 7, height = 5;
        foreach (int outWidth in Enumerable.Range(1, 20))
            foreach (int dropped in new[] { 0, 1, 2, 3 })
                foreach (int rows in new[] { 1, 3, 4 })
                {
                    int paddedWidth = outWidth + dropped, grid = height * paddedWidth, rounded = (grid + nr - 1) / nr * nr, outPlane = height * outWidth;
                    int[] offsets = [.. Enumerable.Range(0, taps).Select(_ => rng.NextInt(40))];
                    int vectors = rounded / System.Runtime.Intrinsics.Vector256<T>.Count;   // the stores' vectors are 256 bits on either path
                    int[] kinds = new int[vectors], targets = new int[vectors], counts = new int[vectors], permutations = new int[vectors * 8];
                    DirectConvolution<T>.GridStores.Fill(vectors, height, paddedWidth, outWidth, kinds, targets, counts, permutations);
                    T[] w = Random<T>(rng, taps * mr), x = Random<T>(rng, rounded + 40 + nr), bias = Random<T>(rng, mr);
                    T[] dense = new T[mr * rounded], expected = Random<T>(rng, mr * outPlane + 5), actual = (T[])expected.Clone();
                    bool withBias = rows != 3;
                    fixed (int* o = offsets, pk = kinds, pt = targets, pc = counts, pp = permutations)
                    fixed (T* pw = w, px = x, pb = bias, pd = dense, pa = actual)
                    {
                        var stores = new DirectConvolution<T>.GridStores(pk, pt, pc, pp);
                        for (int q = 0; q < rounded; q += nr)
                        {
                            DirectConvolution<T>.ReferenceTile(nr, taps, o, pw, px + q, pd + q, rounded);
                            DirectConvolution<T>.TileIntoPlanes(kernel, taps, o, pw, px, q, pa, rows, outPlane, stores, withBias ? pb : null);
                        }
                    }
                    for (int r = 0; r < rows; r++)
                        for (int h = 0; h < height; h++)
                            for (int c = 0; c < outWidth; c++)
                                expected[r * outPlane + h * outWidth + c] = dense[r * rounded + h * paddedWidth + c] + (withBias ? bias[r] : T.Zero);
                    Compare($"{kernel} {typeof(T).Name} tile into planes OW={outWidth} Wp={paddedWidth} rows={rows}", expected, actual, tolerance);
                }
    }

    public static TheoryData<GemmKernel> WeightTileKernels()
    {
        var data = new TheoryData<GemmKernel>();
        foreach (var kernel in new[] { GemmKernel.Avx512, GemmKernel.Avx2, GemmKernel.Vector128 }.Where(k => Gemm.IsSupported(k) && DirectWeightGradient<float>.Supports(k))) data.Add(kernel);
        // Without vectors (DOTNET_EnableHWIntrinsic=0) the tests check that the direct kernels stand aside instead.
        if (data.Count == 0) data.Add(GemmKernel.Scalar);
        return data;
    }

    // On a machine without the direct kernels' vectors: convolutions take im2col + GEMM (which the reference tests cover).
    private static bool StandsAside(GemmKernel kernel)
    {
        if (DirectWeightGradient<float>.Supports(kernel)) return false;
        var g = Geometry([3, 7, 7, 16, 1, 3, 3, 1, 1, 1, 1, 1, 1]);
        Assert.False(Convolution<double>.UsesDirectWeights(g), $"{g} takes the direct backward-weights path without vectors");
        Assert.NotEqual(Convolution<float>.DirectKernel.ChannelVector, Convolution<float>.DirectPath(g, backwardData: false));
        return true;
    }

    // Every row length 0..11 over one to three rows of one or two samples, whole and windowed, overwriting and accumulating,
    // for each tile of taps the path has (6, and 12 on AVX-512): the tile's position loop and merge.
    [Theory]
    [MemberData(nameof(WeightTileKernels))]
    public unsafe void TheDirectWeightTileMatchesItsScalarReference(GemmKernel kernel)
    {
        if (StandsAside(kernel)) return;
        WeightTileMatches<float>(kernel, 1e-5);
        WeightTileMatches<double>(kernel, 1e-13);
    }

    private static unsafe void WeightTileMatches<T>(GemmKernel kernel, double tolerance) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Rng(21);
        int bw = DirectWeightGradient<T>.BlockWidth(kernel);
        int[] tapCounts = DirectWeightGradient<T>.HasTwelveTapTile(kernel) ? [DirectWeightGradient<T>.Taps, DirectWeightGradient<T>.TwelveTaps] : [DirectWeightGradient<T>.Taps];
        foreach (int taps in tapCounts)
        foreach (int samples in new[] { 1, 2 })
            for (int rows = 1; rows <= 3; rows++)
                for (int length = 0; length <= 11; length++)
                    foreach (bool accumulate in new[] { false, true })
                    foreach (var window in new DirectWeightGradient<T>.TapWindow[] { new(0, rows, 0, length), new(1, rows, 0, length), new(0, rows, Math.Min(1, length), length), new(0, rows - 1, 0, Math.Max(0, length - 2)) })
                    {
                        int rowStride = length + 3, sampleStride = rows * rowStride + 5;
                        int[] offsets = [.. Enumerable.Range(0, taps).Select(_ => rng.NextInt(40))];
                        T[] x = Random<T>(rng, samples * sampleStride + 40), dy = Random<T>(rng, samples * rows * length * bw);
                        T[] partial = Random<T>(rng, taps * bw), expected = (T[])partial.Clone();
                        fixed (int* o = offsets)
                        fixed (T* px = x, pdy = dy, pp = partial, pe = expected)
                        {
                            DirectWeightGradient<T>.Tile(kernel, taps, samples, sampleStride, rows, length, rowStride, window, o, px, pdy, pp, accumulate);
                            DirectWeightGradient<T>.ReferenceTile(bw, taps, samples, sampleStride, rows, length, rowStride, window, o, px, pdy, pe, accumulate);
                        }
                        Compare($"{kernel} {typeof(T).Name} weight tile taps={taps} samples={samples} rows={rows} length={length} {window} accumulate={accumulate}", expected, partial, tolerance);
                    }
    }

    // Channel counts that cross the weight tile's block of two vectors (4, 8 or 16 lanes) on both sides, tap counts that are not
    // multiples of six (1·3·3, 2·2·2, 5·1·1, 3·5·5), 13 channels (a kernel position's 18 tap slots: one tile of twelve and
    // one of six on AVX-512), and planes large enough for a chunk of one or two samples, so that dW adds several chunks.
    [Theory]
    [MemberData(nameof(WeightTileKernels))]
    public void TheDirectWeightPathCoversEveryChannelTapAndChunkTail(GemmKernel kernel)
    {
        if (StandsAside(kernel)) return;
        var saved = Gemm.Kernel;
        try
        {
            Gemm.Kernel = kernel;
            Convolution<float>.PositionVectorWeightsEnabled = Convolution<double>.PositionVectorWeightsEnabled = false;   // these kernels have few taps
            foreach (int oc in new[] { 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 33 })
                foreach (var (c, k, pad, size) in new[] { (1, 3, 1, 6), (2, 2, 0, 7), (5, 1, 0, 5), (3, 5, 2, 4), (1, 3, 1, 33), (13, 3, 1, 6) })
                {
                    var g = Geometry([c, size, size + 1, oc, 1, k, k, 1, 1, pad, pad, pad, pad]);
                    Assert.True(Convolution<double>.UsesDirectWeights(g), $"{g} takes the direct backward-weights path");
                    int batch = size > 30 ? 5 : 3;
                    Check<float>(g, batch, 2e-4, $"{kernel} direct weights oc={oc} c={c} k={k} size={size}");
                    Check<double>(g, batch, 1e-12, $"{kernel} direct weights oc={oc} c={c} k={k} size={size}");
                }
        }
        finally
        {
            Gemm.Kernel = saved;
            Convolution<float>.PositionVectorWeightsEnabled = Convolution<double>.PositionVectorWeightsEnabled = true;
        }
    }

    // Tap counts 0..40 with random input offsets, weight offsets and bases, overwriting and accumulating.
    [Theory]
    [MemberData(nameof(WeightTileKernels))]
    public unsafe void TheChannelVectorTileMatchesItsScalarReference(GemmKernel kernel)
    {
        if (StandsAside(kernel)) return;
        ChannelVectorTileMatches<float>(kernel, 1e-5);
        ChannelVectorTileMatches<double>(kernel, 1e-13);
    }

    private static unsafe void ChannelVectorTileMatches<T>(GemmKernel kernel, double tolerance) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Rng(33);
        int positions = ChannelVectorConvolution<T>.Positions;
        foreach (int bw in ChannelVectorConvolution<T>.BlockWidths(kernel))
        for (int taps = 0; taps <= 40; taps++)
            foreach (bool accumulate in new[] { false, true })
            {
                int[] pairs = [.. Enumerable.Range(0, taps).SelectMany(_ => new[] { rng.NextInt(50), rng.NextInt(45) * bw / 2 })];
                int[] bases = [.. Enumerable.Range(0, positions).Select(_ => rng.NextInt(30))];
                T[] w = Random<T>(rng, 23 * bw), x = Random<T>(rng, 80), y = Random<T>(rng, positions * bw), expected = (T[])y.Clone();
                fixed (int* pp = pairs, pb = bases)
                fixed (T* pw = w, px = x, py = y, pe = expected)
                {
                    ChannelVectorConvolution<T>.Tile(kernel, bw, taps, pp, pw, px, pb, py, accumulate);
                    ChannelVectorConvolution<T>.ReferenceTile(bw, taps, pp, pw, px, pb, pe, accumulate);
                }
                Compare($"{kernel} {typeof(T).Name} channel-vector tile width={bw} taps={taps} accumulate={accumulate}", expected, y, tolerance);
            }
    }

    // Planes of 1..40 positions (every tail of the transposes' squares of 8 or 4 positions) whose positions come from the
    // product in a shuffled order, channel counts across the squares' 8 or 4 channels up to the widest block, with and
    // without a bias: the store into NCHW planes against its scalar twin, exactly.
    [Theory]
    [MemberData(nameof(WeightTileKernels))]
    public unsafe void TheChannelVectorProductGoesToPlanesAsItsScalarReferenceDoes(GemmKernel kernel)
    {
        if (StandsAside(kernel)) return;
        ToPlanesMatches<float>(kernel);
        ToPlanesMatches<double>(kernel);
    }

    private static unsafe void ToPlanesMatches<T>(GemmKernel kernel) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Rng(55);
        int bw = ChannelVectorConvolution<T>.BlockWidths(kernel).Max();
        for (int plane = 1; plane <= 40; plane++)
            foreach (int channels in new[] { 1, 3, 4, 5, 7, 8, 9, bw / 2 + 1, bw - 1, bw }.Where(c => c <= bw).Distinct())
                foreach (bool withBias in new[] { false, true })
                {
                    int slots = plane + 5;   // the product's rows round the positions up to whole tiles
                    int[] order = [.. Enumerable.Range(0, slots).OrderBy(_ => rng.NextInt(1000))];
                    int[] sources = [.. order.Take(plane).Select(slot => slot * bw)];
                    T[] rows = Random<T>(rng, slots * bw), bias = Random<T>(rng, bw);
                    T[] expected = Random<T>(rng, channels * plane + 3), actual = (T[])expected.Clone();
                    fixed (int* ps = sources)
                    fixed (T* pr = rows, pb = bias, pe = expected, pa = actual)
                    {
                        ChannelVectorConvolution<T>.ToPlanes(kernel, pr, ps, plane, channels, pa, withBias ? pb : null);
                        ChannelVectorConvolution<T>.ReferenceToPlanes(pr, ps, plane, channels, pe, withBias ? pb : null);
                    }
                    Assert.True(expected.AsSpan().SequenceEqual(actual), $"{kernel} {typeof(T).Name} to planes plane={plane} channels={channels} bias={withBias}");
                }
    }

    // Small planes take the channel-vector kernel on AVX-512 and AVX2 as on Vector128: channel counts across its blocks of
    // 8, 16 or 32 float lanes (4, 8 or 16 double) in both passes, 30 input channels (more than one block of taps), and 31
    // samples of 3×3 (more than one chunk). AVX-512's blocks of 32 take counts from 17 up (33, 48 and 100 its wide blocks of 64): fewer leave so many lanes empty
    // that the padded grid serves them.
    [Theory]
    [MemberData(nameof(WeightTileKernels))]
    public void TheChannelVectorPathCoversEveryChannelTapAndChunkTail(GemmKernel kernel)
    {
        if (StandsAside(kernel)) return;
        var saved = Gemm.Kernel;
        try
        {
            Gemm.Kernel = kernel;
            int[] counts = ChannelVectorConvolution<float>.NarrowBlockWidth(kernel) > 16 ? [17, 24, 32, 33, 48, 65, 100] : [9, 12, 16, 17, 24, 33];
            foreach (int oc in counts)
                foreach (var (c, size, k, pad, batch) in new[] { (oc + 1, 3, 3, 1, 3), (30, 3, 3, 1, 3), (oc, 3, 2, 0, 3), (oc + 2, 3, 3, 1, 31) })
                {
                    if (batch > 3 && oc != counts[3]) continue;
                    var g = Geometry([c, size, size, oc, 1, k, k, 1, 1, pad, pad, pad, pad]);
                    foreach (bool backwardData in new[] { false, true })
                        Assert.True(Convolution<float>.DirectPath(g, backwardData) == Convolution<float>.DirectKernel.ChannelVector, $"{g} takes the channel-vector kernel (backward-data {backwardData})");
                    Check<float>(g, batch, 2e-4, $"{kernel} channel vectors oc={oc} c={c} k={k} size={size} batch={batch}");
                    Check<double>(g, batch, 1e-12, $"{kernel} channel vectors oc={oc} c={c} k={k} size={size} batch={batch}");
                }
        }
        finally { Gemm.Kernel = saved; }
    }

    // The channel-vector kernel forced onto geometries whose padding makes many tap rectangles: 5×5 kernels padded by 2,
    // even kernels padded 1 before and 2 after ("same"), padding on one side only, planes of 1 to 9 px, single-sample
    // chunks and chunks with a smaller last one; every tile sums only the union of its positions' valid taps.
    [Theory]
    [MemberData(nameof(WeightTileKernels))]
    public void TheChannelVectorPathSkipsPaddedTapsOnEveryPaddingShape(GemmKernel kernel)
    {
        if (StandsAside(kernel) || kernel is not (GemmKernel.Avx2 or GemmKernel.Avx512)) return;   // the override picks between the two direct kernels of AVX2 and AVX-512
        var saved = Gemm.Kernel;
        try
        {
            Gemm.Kernel = kernel;
            Convolution<float>.DirectOverride = Convolution<float>.DirectKernel.ChannelVector;
            Convolution<double>.DirectOverride = Convolution<double>.DirectKernel.ChannelVector;
            foreach (var (size, k, before, after, batch) in new[] { (5, 5, 2, 2, 3), (7, 4, 1, 2, 2), (6, 4, 2, 1, 7), (3, 3, 2, 0, 13), (1, 3, 1, 1, 9), (9, 3, 0, 2, 1), (2, 2, 1, 0, 30) })
            {
                var g = Geometry([9, size, size + 1, 17, 1, k, k, 1, 1, before, before, after, after]);
                foreach (bool backwardData in new[] { false, true })
                    Assert.True(Convolution<float>.DirectPath(g, backwardData) == Convolution<float>.DirectKernel.ChannelVector, $"{g} takes the channel-vector kernel (backward-data {backwardData})");
                Check<float>(g, batch, 2e-4, $"{kernel} skipping channel vectors size={size} k={k} pad={before},{after} batch={batch}");
                Check<double>(g, batch, 1e-12, $"{kernel} skipping channel vectors size={size} k={k} pad={before},{after} batch={batch}");
            }
        }
        finally
        {
            Gemm.Kernel = saved;
            Convolution<float>.DirectOverride = null;
            Convolution<double>.DirectOverride = null;
        }
    }

    // 3×3 planes under a 3×3 kernel padded by 1: six samples fill one tile for each of the nine rectangles (4 corners of 4
    // taps, 4 edges of 6, the centre of 9), so the tiles sum 49 taps per channel where the padded planes have 81; 7×7 planes
    // keep 361 of 441. Without the skipping every tile would sum all 9.
    [Fact]
    public void TheChannelVectorPlanSumsOnlyTheTapsInsideTheImage()
    {
        var plan = new ChannelVectorPlan();
        plan.Build(samples: 6, channels: 2, height: 3, width: 3, padTop: 1, padLeft: 1, outChannels: 16, outHeight: 3, outWidth: 3, kernelHeight: 3, kernelWidth: 3, blockWidth: 16);
        Assert.Equal(9, plan.Tiles);
        Assert.Equal(49, plan.TileTaps.Take(plan.Tiles).Sum());
        Assert.True(plan.ChannelsLast);   // each tile's six positions come from six samples
        Assert.Equal((2, 5 * 5 * 2), (plan.PositionStride, plan.PaddedSampleLength));
        plan.Build(samples: 6, channels: 32, height: 3, width: 3, padTop: 1, padLeft: 1, outChannels: 16, outHeight: 3, outWidth: 3, kernelHeight: 3, kernelWidth: 3, blockWidth: 16);
        Assert.Equal((40, 5 * 5 * 40), (plan.PositionStride, plan.PaddedSampleLength));   // whole cache lines of channels get 8 values of slack
        plan.Build(samples: 6, channels: 2, height: 7, width: 7, padTop: 1, padLeft: 1, outChannels: 16, outHeight: 7, outWidth: 7, kernelHeight: 3, kernelWidth: 3, blockWidth: 16);
        Assert.Equal(49, plan.Tiles);
        Assert.Equal(361, plan.TileTaps.Take(plan.Tiles).Sum());
        Assert.False(plan.ChannelsLast);
        Assert.Equal(9 * 9 * 2, plan.PaddedSampleLength);
        Assert.Equal(30, Convolution<float>.VectorChunkSamples(9, batch: 480));   // 29 would leave tiles that mix two rectangles
        Assert.Equal(6, Convolution<float>.VectorChunkSamples(49, batch: 256));
        Assert.Equal(2, Convolution<float>.VectorChunkSamples(225, batch: 256));
        Assert.Equal(2, Convolution<float>.VectorChunkSamples(9, batch: 32));     // sixteen chunks: both threads (and up to sixteen) get work
        Assert.Equal(18, Convolution<float>.VectorChunkSamples(9, batch: 256));   // a sixteenth of 256, 16, rounded up to whole tiles
        Assert.Equal(30, Convolution<float>.VectorChunkSamples(9, batch: 1024));
        Assert.Equal(1, Convolution<float>.VectorChunkSamples(9, batch: 1));
    }

    // AVX-512 takes the four-vector channel-vector tile where it leaves no more lanes empty than two vectors would; the
    // other paths have the two-vector tile only. Arithmetic on the widths, the same on any machine.
    [Theory]
    [InlineData(64, 64)]
    [InlineData(128, 64)]
    [InlineData(256, 64)]
    [InlineData(48, 64)]    // 64 lanes either way
    [InlineData(33, 64)]
    [InlineData(96, 32)]    // 128 lanes wide against 96
    [InlineData(17, 32)]
    [InlineData(160, 32)]
    public void AVX512PassesTakeTheWideChannelVectorTileWhereItLeavesNoMoreLanesEmpty(int channels, int floatWidth)
    {
        Assert.Equal(floatWidth, ChannelVectorConvolution<float>.BlockWidth(GemmKernel.Avx512, channels));
        Assert.Equal(floatWidth / 2, ChannelVectorConvolution<double>.BlockWidth(GemmKernel.Avx512, (channels + 1) / 2));   // half the lanes, half the channels
        Assert.Equal(16, ChannelVectorConvolution<float>.BlockWidth(GemmKernel.Avx2, channels));
        Assert.Equal(8, ChannelVectorConvolution<float>.BlockWidth(GemmKernel.Vector128, channels));
    }

    [Theory]
    [InlineData(16, 28)]   // AVX2's 16 float channels: 28 channels × 9 taps × 64 bytes = 15.75 KB
    [InlineData(32, 14)]   // AVX-512's 32: the same 16 KB, half the channels
    [InlineData(8, 56)]    // Vector128's 8
    public void AChannelBlockOfTheChannelVectorPassHoldsSixteenKilobytesOfWeights(int blockWidth, int expected)
    {
        Assert.Equal(expected, Convolution<float>.VectorChannelsPerBlock(kernelTaps: 9, blockWidth));
        Assert.Equal(expected, Convolution<double>.VectorChannelsPerBlock(kernelTaps: 9, blockWidth / 2));   // double's blocks hold half the channels
        Assert.Equal(1, Convolution<float>.VectorChannelsPerBlock(kernelTaps: 49 * 49, blockWidth));        // a kernel larger than the budget still gets one channel
    }

    [Fact]
    public void ResultsAreIdenticalForOneAndTwoThreads()
    {
        // The second geometry's plane (35·36) makes chunks of one sample and three channel blocks: the direct backward-weights split.
        // The third's 3×3 planes take the channel-vector kernel, 67 samples in chunks of 30 and a last one of 7.
        // The fourth's 24 output channels are one or two blocks: backward-weights splits its 13 samples into parts as well.
        foreach (var (g, batch) in new[] { (Geometry([16, 12, 12, 32, 1, 3, 3, 1, 1, 1, 1, 1, 1]), 6), (Geometry([4, 35, 36, 40, 1, 3, 3, 1, 1, 1, 1, 1, 1]), 3),
            (Geometry([20, 3, 3, 24, 1, 3, 3, 1, 1, 1, 1, 1, 1]), 67), (Geometry([8, 9, 9, 24, 1, 3, 3, 1, 1, 1, 1, 1, 1]), 13) })
        {
            var one = Run<float>(g, batch, threads: 1);
            foreach (int threads in new[] { 2, 3 })
            {
                var other = Run<float>(g, batch, threads);
                for (int i = 0; i < one.Length; i++) Assert.True(one[i].AsSpan().SequenceEqual(other[i]), $"{g}: output {i} differs between 1 and {threads} threads");
            }
        }
    }

    [Theory]
    [InlineData(1, 256, 8)]    // one block of output channels: eight sample parts
    [InlineData(2, 256, 4)]    // 64 float channels on AVX-512
    [InlineData(3, 256, 3)]
    [InlineData(8, 256, 1)]    // 256 channels: the blocks alone make eight items
    [InlineData(2, 3, 3)]      // never more parts than samples
    [InlineData(1, 1, 1)]
    public void TheDirectWeightPassSplitsTheBatchWhereTheChannelBlocksAreFew(int blocks, int batch, int expected) =>
        Assert.Equal(expected, Convolution<float>.WeightSampleParts(blocks, batch));

    [Fact]
    public void AWarmForwardAndBackwardAllocateNothing()
    {
        var rng = new Rng(8);
        var layer = new Conv2d<float>(new Shape(8, 10, 10), 16, 3, padding: 1);
        var x = new Matrix<float>(4, layer.InputSize);
        var g = new Matrix<float>(4, layer.OutputSize);
        foreach (ref float v in x.Span) v = (float)rng.NextNormal();
        foreach (ref float v in g.Span) v = (float)rng.NextNormal();
        for (int i = 0; i < 2; i++) { layer.Forward(x); layer.Backward(g); }
        Assert.Equal(0, Allocations.Least(() =>
        {
            layer.Forward(x);
            layer.Backward(g);
        }));
    }

    private static void EveryGeometry<T>(GemmKernel kernel, double tolerance) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var saved = Gemm.Kernel;
        try
        {
            Gemm.Kernel = kernel;
            foreach (var numbers in Geometries)
                foreach (int threads in new[] { 1, 2 })
                {
                    using var scope = new ThreadCountScope(threads);
                    Check<T>(Geometry(numbers), batch: 3, tolerance, $"{kernel} {typeof(T).Name} [{string.Join(", ", numbers)}] threads={threads}");
                }
        }
        finally { Gemm.Kernel = saved; }
    }

    internal static ConvGeometry Geometry(int[] n) => new(n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7], n[8], n[9], n[10],
        (int)ConvGeometry.OutputLength(n[1], n[5], n[7], n[9], n[11]), (int)ConvGeometry.OutputLength(n[2], n[6], n[8], n[10], n[12]));

    // The fast passes and the reference on the same random operands; |fast − reference| ≤ tolerance·max(1, |reference|) per element.
    private static void Check<T>(ConvGeometry g, int batch, double tolerance, string what) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Rng((ulong)what.Length * 7919);
        T[] x = Random<T>(rng, batch * g.InputSize), w = Random<T>(rng, g.OutChannels * g.Patch), b = Random<T>(rng, g.OutChannels), dy = Random<T>(rng, batch * g.OutputSize);
        T[] y = new T[batch * g.OutputSize], dx = Random<T>(rng, batch * g.InputSize), dw = Random<T>(rng, w.Length);
        T[] yRef = new T[y.Length], dxRef = new T[dx.Length], dwRef = (T[])dw.Clone();   // dw accumulates onto what is there
        Run(g, batch, x, w, b, dy, y, dx, dw);
        Convolution<T>.ReferenceForward(g, batch, x, w, b, yRef);
        Convolution<T>.ReferenceBackward(g, batch, x, w, dy, dxRef, dwRef);
        Compare(what + " forward", yRef, y, tolerance);
        Compare(what + " backward-data", dxRef, dx, tolerance);
        Compare(what + " backward-weights", dwRef, dw, tolerance);
    }

    private static unsafe void Run<T>(ConvGeometry g, int batch, T[] x, T[] w, T[] b, T[] dy, T[] y, T[] dx, T[] dw) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var kernels = new Convolution<T>();
        fixed (T* px = x, pw = w, pb = b, pdy = dy, py = y, pdx = dx, pdw = dw)
        {
            kernels.Forward(g, batch, px, pw, pb, py);
            kernels.BackwardData(g, batch, pdy, pw, pdx);
            kernels.BackwardWeights(g, batch, px, pdy, pdw);
        }
    }

    private static T[][] Run<T>(ConvGeometry g, int batch, int threads) where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var scope = new ThreadCountScope(threads);
        var rng = new Rng(5);
        T[] x = Random<T>(rng, batch * g.InputSize), w = Random<T>(rng, g.OutChannels * g.Patch), b = Random<T>(rng, g.OutChannels), dy = Random<T>(rng, batch * g.OutputSize);
        T[] y = new T[batch * g.OutputSize], dx = new T[batch * g.InputSize], dw = new T[w.Length];
        Run(g, batch, x, w, b, dy, y, dx, dw);
        return [y, dx, dw];
    }

    private static T[] Random<T>(Rng rng, int length) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var values = new T[length];
        for (int i = 0; i < length; i++) values[i] = T.CreateChecked(rng.NextNormal());
        return values;
    }

    private static void Compare<T>(string what, T[] expected, T[] actual, double tolerance) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < expected.Length; i++)
        {
            double e = double.CreateChecked(expected[i]), a = double.CreateChecked(actual[i]);
            Assert.True(Math.Abs(a - e) <= tolerance * Math.Max(1, Math.Abs(e)),
                string.Create(CultureInfo.InvariantCulture, $"{what}[{i}]: {a:R}, reference {e:R}"));
        }
    }
}
