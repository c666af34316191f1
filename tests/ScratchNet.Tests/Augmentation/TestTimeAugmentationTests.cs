using ScratchNet.Data;
using ScratchNet.Data.Augmentation;
using ScratchNet.Losses;

namespace ScratchNet.Tests.Augmentation;

/// <summary>
/// Test-time augmentation: the averaged outputs are the weighted sum of the network's outputs on each view
/// (airbench's weights), flip TTA cannot tell an image from its mirror image, and loss and accuracy follow the averages.
/// </summary>
public class TestTimeAugmentationTests
{
    private static Network<double> Net(int inputs)
    {
        var net = new Network<double>(inputs, 3, Loss.CrossEntropy, seed: 8);
        net.AddLinear(10); net.AddRelu();
        net.AddLinear(3); net.AddSoftmax();
        return net;
    }

    [Theory]
    [InlineData(TtaMode.None)]
    [InlineData(TtaMode.Flip)]
    [InlineData(TtaMode.FlipTranslate)]
    public void OutputsAreTheWeightedAverageOfTheViews(TtaMode mode)
    {
        var images = AugmentedImagesTests.Images(count: 7, side: 5, channels: 3);
        var source = new AugmentedImages<double>(images, normalization: ChannelNormalization.Measure(images));
        var net = Net(75);
        int[] rows = [6, 2, 0, 3];
        var averaged = TestTimeAugmentation.Predict(net, source, rows, mode);

        var expected = new double[rows.Length * 3];
        var x = new Matrix<double>(0, 75);
        var y = new Matrix<double>(0, 3);
        var views = TestTimeAugmentation.Views(mode);
        Assert.Equal(1.0, views.Sum(v => v.Weight), 15);
        Assert.Equal(mode switch { TtaMode.None => 1, TtaMode.Flip => 2, _ => 6 }, views.Count);
        foreach (var (view, weight) in views)
        {
            source.GatherView(rows, view, x, y);
            var p = net.Predict(x);
            for (int j = 0; j < expected.Length; j++) expected[j] += weight * p.Span[j];
        }
        for (int j = 0; j < expected.Length; j++) Assert.Equal(expected[j], averaged.Span[j], 14);
        if (mode == TtaMode.None) Assert.Equal(net.Predict(Gathered(source, rows)).Span.ToArray(), averaged.Span.ToArray());
    }

    private static Matrix<double> Gathered(AugmentedImages<double> source, int[] rows)
    {
        var x = new Matrix<double>(0, source.FeatureCount);
        source.Gather(rows, x, new Matrix<double>(0, source.TargetCount));
        return x;
    }

    [Fact]
    public void FlipTtaSeesAnImageAndItsMirrorImageAlike()
    {
        var images = AugmentedImagesTests.Images(count: 4, side: 6, channels: 3, seed: 12);
        // The same images mirrored left to right, as a second set.
        var mirrored = new byte[images.Pixels.Length];
        for (int i = 0; i < images.Pixels.Length; i++)
        {
            int x = i % 6;
            mirrored[i - x + (5 - x)] = images.Pixels[i];
        }
        var other = new ImageSet("mirror", 6, 6, 3, mirrored, images.Labels, 3);
        var net = Net(108);
        int[] rows = [0, 1, 2, 3];
        var a = TestTimeAugmentation.Predict(net, new AugmentedImages<double>(images), rows, TtaMode.Flip);
        var b = TestTimeAugmentation.Predict(net, new AugmentedImages<double>(other), rows, TtaMode.Flip);
        Assert.Equal(a.Span.ToArray(), b.Span.ToArray());   // ½a + ½b = ½b + ½a exactly
        var plainA = net.Predict(Gathered(new AugmentedImages<double>(images), rows));
        var plainB = net.Predict(Gathered(new AugmentedImages<double>(other), rows));
        Assert.NotEqual(plainA.Span.ToArray(), plainB.Span.ToArray());
    }

    [Fact]
    public void LossAndAccuracyFollowTheAveragedOutputs()
    {
        var images = AugmentedImagesTests.Images(count: 9, side: 5, channels: 3, seed: 2);
        var source = new AugmentedImages<double>(images);
        var net = Net(75);
        int[] rows = [.. Enumerable.Range(0, 9)];
        var p = TestTimeAugmentation.Predict(net, source, rows, TtaMode.FlipTranslate);
        double loss = rows.Average(r => -Math.Log(p[r, images.Labels[r]]));
        double accuracy = rows.Count(r => p.Row(r).IndexOf(p.Row(r).ToArray().Max()) == images.Labels[r]) / 9.0;
        var (actualLoss, actualAccuracy) = TestTimeAugmentation.Evaluate(net, source, rows, TtaMode.FlipTranslate);
        Assert.Equal(loss, actualLoss, 12);
        Assert.Equal(accuracy, actualAccuracy);
        // Without views it is the network's own evaluation.
        var (plainLoss, plainAccuracy) = net.Evaluate(source, rows);
        var (noneLoss, noneAccuracy) = TestTimeAugmentation.Evaluate(net, source, rows, TtaMode.None);
        Assert.Equal(plainLoss, noneLoss, 12);
        Assert.Equal(plainAccuracy, noneAccuracy);
    }
}
