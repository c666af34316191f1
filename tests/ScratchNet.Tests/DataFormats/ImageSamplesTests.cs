using ScratchNet.Data;

namespace ScratchNet.Tests.DataFormats;

public class ImageSamplesTests
{
    private static ImageSet ThreeImages() =>
        new("three", height: 1, width: 3, channels: 1, pixels: [0, 128, 255, 1, 2, 3, 254, 100, 50], labels: [2, 0, 1], classes: 4);

    [Fact]
    public void GatherScalesTheRequestedRowsAndOneHotsTheirLabels()
    {
        var samples = ThreeImages().AsSamples<float>();
        var x = new Matrix<float>(0, 3);
        var y = new Matrix<float>(0, 4);

        samples.Gather([2, 0], x, y);

        // float32 division, as torchvision's ToTensor computes pixel / 255.
        Assert.Equal([254f / 255f, 100f / 255f, 50f / 255f, 0f, 128f / 255f, 1f], x.ToArray());
        Assert.Equal([0f, 1, 0, 0, 0, 0, 1, 0], y.ToArray());
        Assert.Equal((3, 3, 4), (samples.Count, samples.FeatureCount, samples.TargetCount));
        Assert.Equal([2, 0, 1], Enumerable.Range(0, 3).Select(samples.ClassOf));
    }

    [Fact]
    public void GatherReusesTensorsAcrossBatchesOfDifferentSize()
    {
        var samples = ThreeImages().AsSamples<double>();
        var x = new Matrix<double>(0, 3);
        var y = new Matrix<double>(0, 4);

        samples.Gather([0, 1, 2], x, y);
        samples.Gather([1], x, y);

        Assert.Equal([1 / 255.0, 2 / 255.0, 3 / 255.0], x.ToArray());
        Assert.Equal([1.0, 0, 0, 0], y.ToArray()); // the earlier batch's one-hot entries are cleared
    }

    [Fact]
    public void InconsistentSizesAreRejected()
    {
        Assert.Throws<ArgumentException>(() => new ImageSet("x", 1, 3, 1, [1, 2], [0], 2));
        Assert.Throws<ArgumentException>(() => new ImageSet("x", 1, 1, 1, [1, 2], [0, 2], 2));
    }
}
