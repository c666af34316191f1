using ScratchNet.Data;
using ScratchNet.Data.Augmentation;

namespace ScratchNet.Bench;

/// <summary>
/// Images per second of the CIFAR augmentation as the trainer gathers a batch of 512 (crop ±2 with reflection,
/// alternating flip, cutout 8, per-channel normalisation, float32), against the plain pixel / 255 gather of the
/// same rows (<see cref="ImageSamples{T}"/>), on one thread (the gather runs on the training thread). The recipe
/// trains at a few hundred images per second: the gather's share of a step is ours⁻¹ / step time.
/// </summary>
internal static class AugmentSuite
{
    public static void Run()
    {
        const int Images = 10_000, Batch = 512;
        var rng = new Rng(5);
        var pixels = new byte[Images * 3072];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)rng.NextInt(256);
        var labels = new byte[Images];
        for (int i = 0; i < labels.Length; i++) labels[i] = (byte)rng.NextInt(10);
        var images = new ImageSet("cifar-shaped", 32, 32, 3, pixels, labels, 10);
        var rows = new int[Batch];
        for (int i = 0; i < Batch; i++) rows[i] = rng.NextInt(Images);

        var augmented = new AugmentedImages<float>(images, new ImageAugmentation(2, FlipMode.Alternating, 8), ChannelNormalization.Cifar10, seed: 1);
        var plain = images.AsSamples<float>();
        var x = new Matrix<float>(0, 3072);
        var y = new Matrix<float>(0, 10);
        int epoch = 0;
        double ours = Report.SecondsPerCall(() => augmented.GatherTraining(rows, epoch++, x, y));
        double peer = Report.SecondsPerCall(() => plain.Gather(rows, x, y));
        Report.Emit("augment", "CIFAR batch of 512: crop ±2 (reflect), alternating flip, cutout 8, normalise; float32, 1 thread",
            Batch / ours, "plain pixel/255 gather (ImageSamples)", Batch / peer, "images/s");
    }
}
