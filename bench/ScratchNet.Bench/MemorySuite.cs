using System.Diagnostics;
using ScratchNet.Data;
using ScratchNet.Losses;
using ScratchNet.Training;

namespace ScratchNet.Bench;

/// <summary>
/// Peak working set while training one epoch of Fashion-MNIST's shape (60,000 28×28 grey images kept
/// as bytes, the report's 784-800-300-10 network, 80/20 split, batch 64), against the goal of the
/// dataset's bytes plus 150 MB. Random pixels: the suite measures memory, not learning. Run it in a
/// process of its own (`-- memory`): the peak covers the whole process.
/// </summary>
internal static class MemorySuite
{
    public static void Run()
    {
        const int Images = 60_000, Side = 28, Classes = 10;
        var rng = new Rng(4);
        var pixels = new byte[Images * Side * Side];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)rng.NextInt(256);
        var labels = new byte[Images];
        for (int i = 0; i < labels.Length; i++) labels[i] = (byte)rng.NextInt(Classes);
        var images = new ImageSet("fashion-mnist-shaped", Side, Side, 1, pixels, labels, Classes);

        var net = ReportWorkload.Network(Side * Side, regularization: 1e-5, learningRate: 1e-3);
        var trainer = new Trainer<float>(net, images.AsSamples<float>());
        trainer.Train(epochs: 1, batchSize: 64);

        using var process = Process.GetCurrentProcess();
        process.Refresh();
        double peakMb = process.PeakWorkingSet64 / 1e6;
        double datasetMb = (pixels.Length + labels.Length) / 1e6;
        Report.Emit("memory", "peak working set, one epoch of Fashion-MNIST shape at batch 64 (images as bytes)", peakMb,
            "goal: dataset bytes + 150 MB", datasetMb + 150, "MB", Report.Invariant($"dataset {datasetMb:F1} MB"));
    }
}
