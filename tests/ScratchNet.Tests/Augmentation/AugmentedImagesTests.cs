using ScratchNet.Data;
using ScratchNet.Data.Augmentation;
using ScratchNet.Data.Formats;
using ScratchNet.Tests.DataFormats;

namespace ScratchNet.Tests.Augmentation;

/// <summary>
/// CIFAR-style augmentation: every view against a plain reference that pads by reflection and crops, the
/// normalisation table against its formula, the random draws deterministic per (seed, epoch, image), the
/// alternating flip alternating, cutout's square, and a warm gather allocating nothing.
/// </summary>
public class AugmentedImagesTests
{
    internal static ImageSet Images(int count = 6, int side = 5, int channels = 3, int seed = 1)
    {
        var pixels = FormatBytes.Random(count * side * side * channels, seed);
        var labels = Enumerable.Range(0, count).Select(i => (byte)(i % 3)).ToArray();
        return new ImageSet("test", side, side, channels, pixels, labels, classes: 3);
    }

    // The reference: pad the plane by p with PyTorch's reflect rule, mirror if asked, then cut out the window at (p + dy, p + dx).
    private static double[] Reference(ImageSet images, int image, ImageView view, Func<int, byte, double> value)
    {
        int h = images.Height, w = images.Width, p = Math.Max(Math.Abs(view.Dy), Math.Abs(view.Dx));
        var result = new double[images.FeatureCount];
        for (int c = 0; c < images.Channels; c++)
        {
            // the image, flipped first (out(y, x) reads x' = W − 1 − x before the shift)
            var plane = new byte[h, w];
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    plane[y, x] = images.Pixels[image * images.FeatureCount + c * h * w + y * w + x];
            var padded = new byte[h + 2 * p, w + 2 * p];
            for (int y = -p; y < h + p; y++)
                for (int x = -p; x < w + p; x++)
                {
                    int sy = y < 0 ? -y : y >= h ? 2 * (h - 1) - y : y;
                    int sx = x < 0 ? -x : x >= w ? 2 * (w - 1) - x : x;
                    padded[y + p, x + p] = plane[sy, sx];
                }
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    int xf = view.Flip ? w - 1 - x : x;
                    result[c * h * w + y * w + x] = value(c, padded[y + p + view.Dy, xf + p + view.Dx]);
                }
        }
        return result;
    }

    [Fact]
    public void EveryViewMatchesTheReflectPadReference()
    {
        var images = Images(side: 5);
        var norm = new ChannelNormalization([0.5, 0.4, 0.3], [0.25, 0.2, 0.1]);
        var source = new AugmentedImages<double>(images, normalization: norm);
        var x = new Matrix<double>(0, images.FeatureCount);
        var y = new Matrix<double>(0, images.Classes);
        int[] rows = [4, 0, 2];
        for (int dy = -4; dy <= 4; dy++)
            for (int dx = -4; dx <= 4; dx++)
                foreach (bool flip in new[] { false, true })
                {
                    var view = new ImageView(dy, dx, flip);
                    source.GatherView(rows, view, x, y);
                    for (int i = 0; i < rows.Length; i++)
                    {
                        var expected = Reference(images, rows[i], view, (c, b) => (b / 255.0 - norm.Mean[c]) / norm.Std[c]);
                        AssertClose(expected, x.Row(i).ToArray());
                        Assert.Equal(1.0, y[i, images.Labels[rows[i]]]);
                        Assert.Equal(1.0, y.Row(i).ToArray().Sum());
                    }
                }
    }

    private static void AssertClose(double[] expected, double[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int j = 0; j < expected.Length; j++) Assert.True(Math.Abs(expected[j] - actual[j]) <= 1e-12, $"[{j}]: expected {expected[j]}, got {actual[j]}");
    }

    [Fact]
    public void WithoutAugmentationOrNormalisationItIsImageSamplesBitForBit()
    {
        var images = Images();
        var plain = images.AsSamples<float>();
        var augmented = new AugmentedImages<float>(images);
        int[] rows = [5, 1, 3];
        var (x1, y1, x2, y2) = (new Matrix<float>(0, images.FeatureCount), new Matrix<float>(0, 3), new Matrix<float>(0, images.FeatureCount), new Matrix<float>(0, 3));
        plain.Gather(rows, x1, y1);
        augmented.GatherTraining(rows, epoch: 3, x2, y2);
        Assert.Equal(x1.Span.ToArray(), x2.Span.ToArray());
        Assert.Equal(y1.Span.ToArray(), y2.Span.ToArray());
    }

    [Fact]
    public void TrainingDrawsDependOnSeedEpochAndImageOnly()
    {
        var images = Images(count: 40, side: 8);
        var augmentation = new ImageAugmentation(CropPadding: 2, Flip: FlipMode.Random, Cutout: 3);
        var a = new AugmentedImages<float>(images, augmentation, ChannelNormalization.Cifar10, seed: 7);
        var b = new AugmentedImages<float>(images, augmentation, ChannelNormalization.Cifar10, seed: 7);
        float[] Batch(AugmentedImages<float> source, int[] rows, int epoch)
        {
            var x = new Matrix<float>(0, images.FeatureCount);
            source.GatherTraining(rows, epoch, x, new Matrix<float>(0, 3));
            return x.Span.ToArray();
        }
        int[] all = [.. Enumerable.Range(0, 40)];
        Assert.Equal(Batch(a, all, 2), Batch(b, all, 2));                                  // same seed, same epoch
        Assert.Equal(Batch(a, [17], 2), Batch(a, all, 2).AsSpan(17 * images.FeatureCount, images.FeatureCount).ToArray()); // any batch it is in
        Assert.NotEqual(Batch(a, all, 2), Batch(a, all, 3));                               // epochs differ
        Assert.NotEqual(Batch(a, all, 2), Batch(new AugmentedImages<float>(images, augmentation, ChannelNormalization.Cifar10, seed: 8), all, 2));
        Assert.Equal(Batch(a, all, 2), Batch(a, all, 2));                                  // no state carried between calls
    }

    [Fact]
    public void RandomCropCoversEveryShiftAndFlipBothWays()
    {
        var images = Images(count: 400, side: 6, channels: 1, seed: 3);
        var source = new AugmentedImages<double>(images, new ImageAugmentation(CropPadding: 2, Flip: FlipMode.Random), seed: 1);
        var x = new Matrix<double>(0, images.FeatureCount);
        var y = new Matrix<double>(0, 3);
        int[] rows = [.. Enumerable.Range(0, images.Count)];
        source.GatherTraining(rows, epoch: 0, x, y);
        var seen = new HashSet<ImageView>();
        for (int i = 0; i < rows.Length; i++)
        {
            var candidates = Views(2).Where(v => Reference(images, i, v, (_, b) => b / 255.0).SequenceEqual(x.Row(i).ToArray())).ToList();
            Assert.NotEmpty(candidates);   // every training image is one of the 50 views
            seen.UnionWith(candidates);
        }
        Assert.Equal(50, seen.Count);      // 5 × 5 shifts × 2 orientations all drawn among 400 images
    }

    private static IEnumerable<ImageView> Views(int p) =>
        from dy in Enumerable.Range(-p, 2 * p + 1) from dx in Enumerable.Range(-p, 2 * p + 1) from f in new[] { false, true } select new ImageView(dy, dx, f);

    [Fact]
    public void AlternatingFlipFlipsEachImageEveryOtherEpoch()
    {
        var images = Images(count: 200, side: 4, channels: 1, seed: 5);
        var source = new AugmentedImages<double>(images, new ImageAugmentation(Flip: FlipMode.Alternating), seed: 11);
        var x = new Matrix<double>(0, images.FeatureCount);
        var y = new Matrix<double>(0, 3);
        int[] rows = [.. Enumerable.Range(0, images.Count)];
        bool[] Flipped(int epoch)
        {
            source.GatherTraining(rows, epoch, x, y);
            var plain = new Matrix<double>(0, images.FeatureCount);
            source.GatherView(rows, new ImageView(0, 0, Flip: true), plain, y);
            // A random image is not symmetric, so matching its mirror image means it was flipped.
            return [.. rows.Select(i => x.Row(i).SequenceEqual(plain.Row(i)))];
        }
        bool[] first = Flipped(0);
        Assert.InRange(first.Count(f => f), 70, 130);                     // about half in epoch 0
        for (int epoch = 1; epoch < 5; epoch++)
            Assert.Equal(first.Select(f => f ^ (epoch % 2 == 1)), Flipped(epoch));
    }

    [Fact]
    public void CutoutZeroesAClippedSquareAfterNormalisation()
    {
        var images = Images(count: 50, side: 8, channels: 3, seed: 9);
        var norm = new ChannelNormalization([0.5, 0.5, 0.5], [0.3, 0.3, 0.3]);
        var source = new AugmentedImages<double>(images, new ImageAugmentation(Cutout: 4), norm, seed: 2);
        var x = new Matrix<double>(0, images.FeatureCount);
        source.GatherTraining([.. Enumerable.Range(0, 50)], 0, x, new Matrix<double>(0, 3));
        var plain = new Matrix<double>(0, images.FeatureCount);
        source.Gather([.. Enumerable.Range(0, 50)], plain, new Matrix<double>(0, 3));
        int full = 0;
        for (int i = 0; i < 50; i++)
        {
            var row = x.Row(i).ToArray();
            var changed = Enumerable.Range(0, row.Length).Where(j => row[j] != plain.Row(i)[j]).ToArray();
            Assert.All(changed, j => Assert.Equal(0.0, row[j]));
            // Per channel the zeroed pixels form a rectangle of at most 4 × 4, the same in every channel.
            var perChannel = Enumerable.Range(0, 3).Select(c => Enumerable.Range(0, 64).Where(k => row[c * 64 + k] == 0).ToArray()).ToArray();
            Assert.Equal(perChannel[0], perChannel[1]);
            Assert.InRange(perChannel[0].Length, 4, 16);
            if (perChannel[0].Length == 16) full++;
        }
        Assert.InRange(full, 5, 50);   // squares wholly inside the image are common
    }

    [Fact]
    public void NormalisationMeasuresPerChannelMeanAndDeviation()
    {
        var images = Images(count: 10, side: 4, channels: 3, seed: 4);
        var measured = ChannelNormalization.Measure(images);
        for (int c = 0; c < 3; c++)
        {
            var values = Enumerable.Range(0, 10).SelectMany(i => images.Pixels.Skip(i * 48 + c * 16).Take(16)).Select(b => b / 255.0).ToArray();
            double mean = values.Average();
            Assert.Equal(mean, measured.Mean[c], 1e-12);
            Assert.Equal(Math.Sqrt(values.Select(v => (v - mean) * (v - mean)).Average()), measured.Std[c], 1e-12);
        }
        var source = new AugmentedImages<double>(images, normalization: measured);
        var x = new Matrix<double>(0, 48);
        source.Gather([.. Enumerable.Range(0, 10)], x, new Matrix<double>(0, 3));
        for (int c = 0; c < 3; c++)
        {
            var channel = Enumerable.Range(0, 10).SelectMany(i => x.Row(i).Slice(c * 16, 16).ToArray()).ToArray();
            Assert.Equal(0, channel.Average(), 1e-12);
            Assert.Equal(1, Math.Sqrt(channel.Select(v => v * v).Average()), 1e-12);
        }
    }

    [Fact]
    public void BadSettingsAreRefused()
    {
        var images = Images(side: 5);
        Assert.Throws<ArgumentOutOfRangeException>(() => new AugmentedImages<float>(images, new ImageAugmentation(CropPadding: 5)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AugmentedImages<float>(images, new ImageAugmentation(Cutout: -1)));
        Assert.Throws<ArgumentException>(() => new AugmentedImages<float>(images, normalization: new ChannelNormalization([0.5], [0.2])));
        Assert.Throws<ArgumentException>(() => new ChannelNormalization([0.5, 0.5], [0.2, 0]));
        var source = new AugmentedImages<float>(images);
        Assert.Throws<ArgumentOutOfRangeException>(() => source.GatherView([0], new ImageView(5, 0, false), new Matrix<float>(0, 75), new Matrix<float>(0, 3)));
    }

    [Fact]
    public void AWarmAugmentedGatherAllocatesNothing()
    {
        var images = Images(count: 64, side: 32, channels: 3);
        var source = new AugmentedImages<float>(images, new ImageAugmentation(4, FlipMode.Alternating, 8), ChannelNormalization.Cifar10, seed: 3);
        var x = new Matrix<float>(0, images.FeatureCount);
        var y = new Matrix<float>(0, 3);
        int[] rows = [.. Enumerable.Range(0, 64)];
        source.GatherTraining(rows, 0, x, y);
        source.GatherView(rows, new ImageView(1, -1, true), x, y);
        Assert.Equal(0, Allocations.Least(() =>
        {
            for (int epoch = 1; epoch < 6; epoch++) source.GatherTraining(rows, epoch, x, y);
            source.GatherView(rows, new ImageView(1, -1, true), x, y);
        }));
    }

    [Fact]
    public void ReadsTinyCifarFilesInTheOfficialLayout()
    {
        using var folder = new TempFolder();
        var pixels = FormatBytes.Random(4 * Cifar.ImageBytes, seed: 6);
        string path = Path.Combine(folder.Path, "data_batch_1.bin");
        Cifar.Write(path, pixels, [3, 1, 4, 1]);
        var images = Cifar.Read10([path], "cifar-10");
        var source = new AugmentedImages<double>(images, new ImageAugmentation(2, FlipMode.Random), ChannelNormalization.Cifar10);
        var x = new Matrix<double>(0, Cifar.ImageBytes);
        source.GatherView([2], new ImageView(-1, 2, true), x, new Matrix<double>(0, 10));
        // Channel 1 (green), output (row 0, column 0): source row R(−1) = 1, column R(31 + 2) = 29.
        Assert.Equal((pixels[2 * 3072 + 1024 + 1 * 32 + 29] / 255.0 - 0.4822) / 0.2435, x[0, 1024], 1e-12);
    }
}
