using System.Runtime.InteropServices;
using ScratchNet.Data;
using ScratchNet.Losses;
using ScratchNet.Optimizers;
using ScratchNet.Optimizers.Schedules;
using ScratchNet.Tests.DataFormats;
using ScratchNet.Training;
using static ScratchNet.Tests.Training.TrainOptionsTests;

namespace ScratchNet.Tests.Training;

/// <summary>
/// Checkpoints: a run interrupted and resumed gives bit for bit the history (seconds aside) and weights of
/// the run straight through; checkpoints are written when asked; malformed ones fail with a typed error.
/// </summary>
public class CheckpointTests
{
    private static readonly Dataset<float> Data = Digits.Load<float>();

    public enum Setup { Sgd, SgdBatch1, Momentum, Adam, AdamDropout, AdamWClippedBatchNorm, RmsPropPlateauEarlyStopping }

    [Theory]
    [InlineData(Setup.Sgd)]
    [InlineData(Setup.SgdBatch1)]
    [InlineData(Setup.Momentum)]
    [InlineData(Setup.Adam)]
    [InlineData(Setup.AdamDropout)]
    [InlineData(Setup.AdamWClippedBatchNorm)]
    [InlineData(Setup.RmsPropPlateauEarlyStopping)]
    public void OneEpochThenResumeForTwoEqualsThreeStraight(Setup setup)
    {
        using var folder = new TempFolder();
        var straight = Run(setup, epochs: 3);

        string path = Path.Combine(folder.Path, "checkpoint.safetensors");
        var first = Run(setup, epochs: 1, checkpoint: path);
        var resumed = Run(setup, epochs: 3, resumeFrom: path);

        Assert.Equal(straight.History[..(2 * Stats)], first.History);
        Assert.Equal(straight.History, resumed.History);
        Assert.Equal(straight.Weights, resumed.Weights);
        Assert.Equal(straight.StopReason, resumed.StopReason);
        Assert.Equal(straight.BestEpoch, resumed.BestEpoch);
        Assert.NotEqual(first.Weights, resumed.Weights);
    }

    [Theory]
    [InlineData(Setup.Sgd, 7)]
    [InlineData(Setup.SgdBatch1, 300)]
    [InlineData(Setup.AdamDropout, 3)]
    [InlineData(Setup.AdamWClippedBatchNorm, 5)]
    public void ARunCancelledMidEpochResumesAtTheNextBatch(Setup setup, int cancelAfterBatch)
    {
        using var folder = new TempFolder();
        var straight = Run(setup, epochs: 3);

        string path = Path.Combine(folder.Path, "checkpoint.safetensors");
        using var cancel = new CancellationTokenSource();
        var first = Run(setup, epochs: 3, checkpoint: path, cancel: cancel,
                        progress: p => { if (p.Epoch == 1 && p.Batch == cancelAfterBatch) cancel.Cancel(); });
        Assert.Equal(StopReason.Cancelled, first.StopReason);
        var resumed = Run(setup, epochs: 3, resumeFrom: path);

        Assert.Equal(straight.History, resumed.History);
        Assert.Equal(straight.Weights, resumed.Weights);
    }

    [Fact]
    public void CheckpointsAreWrittenEveryNEpochsAndAtTheEnd()
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "checkpoint.safetensors");
        string copy = Path.Combine(folder.Path, "after-epoch-2.safetensors");
        var straight = Run(Setup.Adam, epochs: 3);
        // Copy the file as epoch 2 begins: it is the one written after epoch 1 (every 2 epochs: after epochs 1 and 3).
        Run(Setup.Adam, epochs: 3, checkpoint: path, every: 2, progress: p => { if (p is { Epoch: 2, Batch: 0 }) File.Copy(path, copy); });

        Assert.Equal(straight.History, Run(Setup.Adam, epochs: 3, resumeFrom: copy).History);
        Assert.Equal(straight.Weights, Run(Setup.Adam, epochs: 3, resumeFrom: path).Weights);   // the final one: nothing left to train
        Assert.Equal(["after-epoch-2.safetensors", "checkpoint.safetensors"], folder.Files());   // no temporary file left
    }

    [Fact]
    public void Float64RunsResumeBitForBitAndRefuseAFloat32Checkpoint()
    {
        using var folder = new TempFolder();
        var data = Digits.Load<double>();
        (Trainer<double>, Network<double>) MakeDouble()
        {
            var net = new Network<double>(Digits.Features, Digits.Classes, Loss.CrossEntropy, 1e-4, seed: 4);
            net.AddLinear(16, Layers.Init.XavierUniform, regularization: true);
            net.AddRelu();
            net.AddDropout(0.1);
            net.AddLinear(Digits.Classes, Layers.Init.XavierUniform, regularization: true);
            net.AddSoftmax();
            net.Optimizer = new Adam<double>(2e-3);
            return (new Trainer<double>(net, data.Features, data.Targets, seed: 4), net);
        }
        var options = new TrainOptions { Epochs = 2, BatchSize = 40 };
        var (straight, straightNet) = MakeDouble();
        var expected = straight.Train(options);

        string path = Path.Combine(folder.Path, "c.safetensors");
        MakeDouble().Item1.Train(options with { Epochs = 1, CheckpointPath = path });
        var (resumed, resumedNet) = MakeDouble();
        resumed.Resume(path);
        var actual = resumed.Train(options);

        Assert.Equal(expected.Select(e => e with { Seconds = 0 }), actual.Select(e => e with { Seconds = 0 }));
        Assert.Equal(straightNet.Parameters.SelectMany(p => p.Value.Span.ToArray()), resumedNet.Parameters.SelectMany(p => p.Value.Span.ToArray()));

        string single = Path.Combine(folder.Path, "f32.safetensors");
        var (trainer, _) = Make(Setup.Adam);
        trainer.Train(new TrainOptions { Epochs = 1, BatchSize = 50, CheckpointPath = single });
        Assert.Contains("dtype", Assert.Throws<CheckpointFormatException>(() => MakeDouble().Item1.Resume(single)).Message);
    }

    [Fact]
    public void TheConfigStringComesBack()
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "c.safetensors");
        string config = "{\"dataset\":\"digits\",\"note\":\"ü ✓\"}";
        var (trainer, _) = Make(Setup.Sgd);
        trainer.Train(new TrainOptions { Epochs = 1, BatchSize = 50, CheckpointPath = path, Config = config });
        Assert.Equal(config, Checkpoint.ReadConfig(path));
        Assert.Equal(config, Make(Setup.Sgd).Trainer.Resume(path));
    }

    [Fact]
    public void TheModelInsideIsAModelFile()
    {
        // The checkpoint's model tensors and metadata are a model file's, so Network.Load reads them… once the extra tensors are ignored:
        // it refuses them instead, with a ModelFormatException naming the tensor.
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "c.safetensors");
        var (trainer, net) = Make(Setup.Adam);
        trainer.Train(new TrainOptions { Epochs = 1, BatchSize = 50, CheckpointPath = path });
        var e = Assert.Throws<ModelFormatException>(() => Network<float>.Load(path));
        Assert.Contains("optimizer.0", e.Message);
        Assert.Equal("float32", Network<float>.ReadMetadata(path)["dtype"]);
    }

    [Fact]
    public void ACheckpointThatDoesNotFitTheTrainerIsRefused()
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "c.safetensors");
        var (trainer, _) = Make(Setup.Adam);
        trainer.Train(new TrainOptions { Epochs = 1, BatchSize = 50, CheckpointPath = path });

        var (sgd, _) = Make(Setup.Sgd);
        Assert.Contains("Adam optimiser", Assert.Throws<CheckpointFormatException>(() => sgd.Resume(path)).Message);

        var wider = new Network<float>(Digits.Features, Digits.Classes, Loss.CrossEntropy, 1e-4, seed: 1);
        wider.AddLinear(33, regularization: true);
        wider.AddRelu();
        wider.AddLinear(Digits.Classes, regularization: true);
        wider.AddSoftmax();
        wider.Optimizer = new Adam<float>();
        Assert.Contains("layers", Assert.Throws<CheckpointFormatException>(() => new Trainer<float>(wider, Data.Features, Data.Targets, seed: 1).Resume(path)).Message);

        var otherSplit = new Trainer<float>(Make(Setup.Adam).Trainer.Network, Data.Features, Data.Targets, validationFraction: 0.3, seed: 1);
        Assert.Throws<CheckpointFormatException>(() => otherSplit.Resume(path));

        var (adam, _) = Make(Setup.Adam);
        adam.Resume(path);
        Assert.Throws<ArgumentException>(() => adam.Train(new TrainOptions { Epochs = 2, BatchSize = 49 }));
    }

    [Fact]
    public void AModelFileOrAMissingFileIsNotACheckpoint()
    {
        using var folder = new TempFolder();
        string model = Path.Combine(folder.Path, "model.safetensors");
        var (trainer, net) = Make(Setup.Sgd);
        net.Save(model);
        Assert.Contains("no 'checkpoint'", Assert.Throws<CheckpointFormatException>(() => trainer.Resume(model)).Message);
        Assert.Throws<FileNotFoundException>(() => trainer.Resume(Path.Combine(folder.Path, "absent")));
    }

    [Fact]
    public void TruncatedOrMutatedCheckpointsFailWithCheckpointFormatExceptionAndChangeNothing()
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "c.safetensors");
        var (writer, _) = Make(Setup.AdamDropout);
        writer.Train(new TrainOptions { Epochs = 1, BatchSize = 50, CheckpointPath = path });
        byte[] good = File.ReadAllBytes(path);
        string bad = Path.Combine(folder.Path, "bad.safetensors");
        var random = new Random(17);

        var (trainer, net) = Make(Setup.AdamDropout);
        byte[] before = Weights(net);
        // Every truncation fails: the header's ranges must tile the data to the end.
        foreach (int length in new[] { 0, 4, 8, 9, 100, good.Length / 2, good.Length - 1 }.Concat(Enumerable.Range(0, 30).Select(_ => random.Next(good.Length))))
        {
            File.WriteAllBytes(bad, good[..length]);
            Assert.Throws<CheckpointFormatException>(() => trainer.Resume(bad));
            Assert.Equal(before, Weights(net));
        }
        // Mutations of the header (length field and JSON) either still describe a loadable checkpoint or fail typed.
        long headerEnd = 8 + BitConverter.ToInt64(good, 0);
        int failures = 0;
        for (int i = 0; i < 400; i++)
        {
            byte[] mutated = (byte[])good.Clone();
            int at = random.Next((int)headerEnd);
            mutated[at] = (byte)(random.Next(3) == 0 ? random.Next(256) : mutated[at] ^ (1 << random.Next(8)));
            File.WriteAllBytes(bad, mutated);
            try { Make(Setup.AdamDropout).Trainer.Resume(bad); }
            catch (CheckpointFormatException) { failures++; }
        }
        Assert.InRange(failures, 200, 400);
    }

    internal const int Stats = 7;   // values per history row compared (seconds left out)

    internal sealed record Result(double[] History, byte[] Weights, StopReason StopReason, int? BestEpoch);

    internal static Result Run(Setup setup, int epochs, string? checkpoint = null, string? resumeFrom = null, int every = 0,
                              CancellationTokenSource? cancel = null, Action<BatchProgress>? progress = null)
    {
        var (trainer, net) = Make(setup);
        if (resumeFrom is not null) trainer.Resume(resumeFrom);
        var options = new TrainOptions
        {
            Epochs = epochs,
            BatchSize = setup == Setup.SgdBatch1 ? 1 : 50,
            CheckpointPath = checkpoint,
            CheckpointEvery = every,
            Progress = progress is null ? null : new Recorder<BatchProgress>(progress),
        };
        if (setup == Setup.RmsPropPlateauEarlyStopping)
            options = options with { Plateau = new ReduceOnPlateau(1e-3, factor: 0.5, patience: 0, threshold: 0.2), EarlyStopping = new EarlyStopping(2, MinDelta: 0.05) };
        var history = trainer.Train(options, cancel?.Token ?? default);
        double[] stats = [.. history.SelectMany(e => new[] { e.Epoch, e.TrainLoss, e.TrainAccuracy, e.ValidationLoss, e.ValidationAccuracy, e.TestLoss, e.TestAccuracy })];
        return new Result(stats, Weights(net), history.StopReason, history.BestEpoch);
    }

    private static (Trainer<float> Trainer, Network<float> Net) Make(Setup setup)
    {
        var net = new Network<float>(Digits.Features, Digits.Classes, Loss.CrossEntropy, regularizationFactor: 1e-4, learningRate: 0.05, seed: 1);
        net.AddLinear(32, regularization: true);
        if (setup == Setup.AdamWClippedBatchNorm) net.AddBatchNorm();
        net.AddRelu();
        if (setup == Setup.AdamDropout) net.AddDropout(0.2);
        net.AddLinear(Digits.Classes, regularization: true);
        net.AddSoftmax();
        net.Optimizer = setup switch
        {
            Setup.Momentum => new SgdMomentum<float>(0.05, 0.9, nesterov: true),
            Setup.Adam or Setup.AdamDropout => new Adam<float>(1e-3),
            Setup.AdamWClippedBatchNorm => new ClippedOptimizer<float>(new AdamW<float>(1e-3), maxNorm: 1),
            Setup.RmsPropPlateauEarlyStopping => new RmsProp<float>(1e-3, momentum: 0.5),
            _ => net.Optimizer,
        };
        var trainer = new Trainer<float>(net, Data.Features, Data.Targets, seed: 1);
        if (setup == Setup.AdamDropout)
            trainer.TestSamples = new Dataset<float>("test", new Matrix<float>(100, Digits.Features, Data.Features.Span[..(100 * Digits.Features)]),
                                                     new Matrix<float>(100, Digits.Classes, Data.Targets.Span[..(100 * Digits.Classes)]));
        return (trainer, net);
    }
}
