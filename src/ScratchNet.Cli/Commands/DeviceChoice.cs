using System.Diagnostics;
using ScratchNet.Data;
using ScratchNet.Gpu;
using ScratchNet.Gpu.Backends;
using ScratchNet.Training;

namespace ScratchNet.Cli.Commands;

/// <summary>
/// <c>--device auto|cpu|cuda</c>: where <c>train</c> runs. <c>auto</c> takes the GPU when one is usable and the run
/// fits the GPU path, else the CPU, saying why in one line; <c>cuda</c> insists and fails with the reason.
/// </summary>
internal static class DeviceChoice
{
    public static readonly string[] Names = ["auto", "cpu", "cuda"];

    /// <summary>The backend to train on, or null for the CPU trainer; writes one "# device: …" line.</summary>
    /// <exception cref="UsageException"><c>--device cuda</c> with settings the GPU path does not run.</exception>
    /// <exception cref="DeviceException"><c>--device cuda</c> and no usable GPU.</exception>
    public static IBackend? Select<T>(RunConfig c, bool resuming, Network<T> network, TextWriter output)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        string device = c.Device ?? "auto";
        if (device == "cpu")
        {
            output.WriteLine("# device: cpu");
            return null;
        }
        string? unsupported = WhyNotOnDevice(c, resuming) ?? (network is Network<float> single ? DeviceNetwork.WhyUnsupported(single) : null);
        if (unsupported is not null)
        {
            if (device == "cuda") throw new UsageException($"--device cuda: {unsupported}; use --device cpu or auto.");
            output.WriteLine($"# device: cpu (the GPU path does not run this configuration: {unsupported})");
            return null;
        }
        try
        {
            var backend = IlgpuBackend.CreateCuda();
            output.WriteLine($"# device: {backend.Name}");
            return backend;
        }
        catch (DeviceException e) when (device == "auto")
        {
            output.WriteLine($"# device: cpu (no usable GPU: {e.Message})");
            return null;
        }
    }

    /// <summary>Trains on <paramref name="backend"/> with the run's split, batch size and epochs, showing epochs through <paramref name="view"/>.</summary>
    public static RunResult Train(Network<float> network, ISampleSource<float> samples, RunConfig c, IBackend backend, ITrainingView view, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        using var trainer = new DeviceTrainer(network, samples, backend, c.ValFraction!.Value, c.Stratify!.Value, c.Seed!.Value) { Output = TextWriter.Null };
        var history = view.Show(c.Epochs!.Value, progress =>
        {
            trainer.EpochCompleted += progress.EpochCompleted;
            try { return trainer.Train(c.Epochs.Value, c.BatchSize!.Value, verbose: false, cancel); }
            finally { trainer.EpochCompleted -= progress.EpochCompleted; }
        });
        return new RunResult(history, history.StopReason == StopReason.Cancelled, clock.Elapsed.TotalSeconds);
    }

    // The settings the GPU path (float32, plain SGD, linear layers with fused activations) does not cover.
    private static string? WhyNotOnDevice(RunConfig c, bool resuming)
    {
        if (c.Dtype == "float64") return "it trains in float32 (--dtype float64 given)";
        if (c.Optimizer is { } optimizer && optimizer != "sgd") return $"it trains with plain SGD (--optimizer {optimizer} given)";
        if (c.Schedule is { } schedule && schedule != "none") return $"learning-rate schedules run on the CPU (--schedule {schedule} given)";
        if (c.ClipNorm is not null) return "gradient clipping runs on the CPU (--clip-norm given)";
        if (c.Dropout is not null) return "dropout runs on the CPU (--dropout given)";
        if (c.Activation is { } activation && activation is not ("relu" or "sigmoid" or "tanh")) return $"its activations are relu, sigmoid and tanh (--activation {activation} given)";
        if (c.EarlyStopping is not null) return "early stopping runs on the CPU (--early-stopping given)";
        if (c.Test == true) return "test-set statistics run on the CPU (--test given)";
        if (RecipeSetup.UsesImageSource(c) || c.LabelSmoothing is not null || c.Ema is not null || c.BiasLrScale is not null)
            return "augmentation, normalisation, test-time augmentation, label smoothing, weight averaging and per-parameter rates run on the CPU";
        if (c.CheckpointEvery is not null || resuming) return "checkpoints run on the CPU (--checkpoint-every or --resume given)";
        return null;
    }
}
