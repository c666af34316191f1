using ScratchNet.Data;
using ScratchNet.Data.Augmentation;
using ScratchNet.Losses;
using ScratchNet.Optimizers;
using ScratchNet.Optimizers.Schedules;
using ScratchNet.Tests.Compute;
using ScratchNet.Training;

namespace ScratchNet.Tests.Augmentation;

/// <summary>
/// The trainer with the recipe's pieces: augmented training batches (and plain evaluation ones), identical runs
/// for one seed on any thread count, per-step schedules, and EMA / lookahead weight averaging.
/// </summary>
[Collection(GlobalStateCollection.Name)]
public class AugmentedTrainingTests
{
    // Records how the trainer draws batches, then delegates.
    private sealed class Spy(AugmentedImages<double> inner) : ITrainingSamples<double>
    {
        public List<int> TrainingEpochs { get; } = [];
        public int PlainGathers { get; private set; }
        public int Count => inner.Count;
        public int FeatureCount => inner.FeatureCount;
        public int TargetCount => inner.TargetCount;
        public int ClassOf(int row) => inner.ClassOf(row);
        public void Gather(ReadOnlySpan<int> rows, Matrix<double> features, Matrix<double> targets)
        {
            PlainGathers++;
            inner.Gather(rows, features, targets);
        }
        public void GatherTraining(ReadOnlySpan<int> rows, int epoch, Matrix<double> features, Matrix<double> targets)
        {
            TrainingEpochs.Add(epoch);
            inner.GatherTraining(rows, epoch, features, targets);
        }
    }

    private static Network<T> Mlp<T>(int inputs, ulong seed = 3) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var net = new Network<T>(inputs, 3, Loss.CrossEntropy, learningRate: 0.05, seed: seed);
        net.AddLinear(16); net.AddRelu();
        net.AddLinear(3); net.AddSoftmax();
        return net;
    }

    private static AugmentedImages<double> Source(ulong seed = 5) =>
        new(AugmentedImagesTests.Images(count: 60, side: 6, channels: 3), new ImageAugmentation(2, FlipMode.Alternating, 2), ChannelNormalization.Measure(AugmentedImagesTests.Images(count: 60, side: 6, channels: 3)), seed);

    [Fact]
    public void TrainingBatchesAreAugmentedPerEpochAndEvaluationIsNot()
    {
        var spy = new Spy(Source());
        var trainer = new Trainer<double>(Mlp<double>(108), spy, seed: 1);
        trainer.Train(new TrainOptions { Epochs = 3, BatchSize = 16 });
        Assert.Equal([0, 0, 0, 1, 1, 1, 2, 2, 2], spy.TrainingEpochs);   // 48 training rows: three batches an epoch
        Assert.True(spy.PlainGathers >= 8);                               // train and validation statistics, 4 records
    }

    [Fact]
    public void AccumulatedMicroBatchesAreAugmentedAndScheduledToo()
    {
        var spy = new Spy(Source());
        var rates = new List<double>();
        var trainer = new Trainer<double>(Mlp<double>(108), spy, seed: 1);
        trainer.Network.Optimizer = new SgdMomentum<double>(0.1, 0.9);
        var schedule = new Triangular(0.1);
        trainer.Train(new TrainOptions { Epochs = 2, BatchSize = 16, Accumulate = 2, StepSchedule = schedule, Progress = new Recorder(p => rates.Add(p.LearningRate)) });
        Assert.Equal([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1], spy.TrainingEpochs);   // two micro-batches per step
        Assert.Equal(Enumerable.Range(0, 6).Select(s => schedule.RateAt(s, 6)), rates);
    }

    [Fact]
    public void OneSeedGivesTheSameRunOnAnyThreadCount()
    {
        double[] Run(int threads)
        {
            using var scope = new ThreadCountScope(threads);
            var net = Mlp<float>(108);
            var images = AugmentedImagesTests.Images(count: 60, side: 6, channels: 3);
            net.Optimizer = new SgdMomentum<float>(0.05, 0.85, nesterov: true, weightDecay: 1e-3);
            var trainer = new Trainer<float>(net, new AugmentedImages<float>(images, new ImageAugmentation(2, FlipMode.Random, 2), ChannelNormalization.Measure(images), seed: 9), seed: 2);
            var history = trainer.Train(new TrainOptions { Epochs = 3, BatchSize = 8, StepSchedule = new Triangular(0.05), WeightAveraging = new WeightAveraging(0.9, Every: 2) });
            return [.. net.Parameters.SelectMany(p => p.Value.Span.ToArray()).Select(v => (double)v), .. history.Select(e => e.ValidationLoss)];
        }
        var one = Run(1);
        Assert.Equal(one, Run(2));
        Assert.Equal(one, Run(1));
    }

    [Fact]
    public void AnAugmentedRunWithAStepScheduleResumesBitForBit()
    {
        Trainer<float> Make()
        {
            var net = Mlp<float>(108);
            net.Optimizer = new SgdMomentum<float>(0.05, 0.85, nesterov: true, weightDecay: 5e-4);
            foreach (var bias in net.Parameters.Where(p => p.Name == "bias")) (bias.LearningRateScale, bias.WeightDecay) = (8, 5e-4 / 8);
            var images = AugmentedImagesTests.Images(count: 60, side: 6, channels: 3);
            return new Trainer<float>(net, new AugmentedImages<float>(images, new ImageAugmentation(2, FlipMode.Alternating, 2), ChannelNormalization.Measure(images), seed: 3), seed: 6);
        }
        var options = new TrainOptions { Epochs = 3, BatchSize = 10, StepSchedule = new OneCycle(0.1) };
        var straight = Make();
        var history = straight.Train(options);
        string path = Path.Combine(Path.GetTempPath(), $"scratchnet-aug-{Guid.NewGuid():N}.safetensors");
        try
        {
            // Stopped after its first epoch (a per-step schedule spans the configured total, so the run keeps Epochs = 3).
            var first = Make();
            using var stop = new CancellationTokenSource();
            first.EpochCompleted += e => { if (e.Epoch == 0) stop.Cancel(); };
            Assert.Equal(StopReason.Cancelled, first.Train(options with { CheckpointPath = path }, stop.Token).StopReason);
            var resumed = Make();
            resumed.Resume(path);
            var continued = resumed.Train(options with { CheckpointPath = path });
            Assert.Equal(history.Select(e => e.ValidationLoss), continued.Select(e => e.ValidationLoss));
            Assert.Equal(straight.Network.Parameters.SelectMany(p => p.Value.Span.ToArray()), resumed.Network.Parameters.SelectMany(p => p.Value.Span.ToArray()));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void AStepScheduleSetsTheRateBeforeEveryBatch()
    {
        var rates = new List<double>();
        var trainer = new Trainer<double>(Mlp<double>(108), Source(), seed: 1);
        trainer.Network.Optimizer = new SgdMomentum<double>(1, 0.9, nesterov: true);
        var schedule = new OneCycle(0.2, pctStart: 0.25);
        trainer.Train(new TrainOptions { Epochs = 4, BatchSize = 10, StepSchedule = schedule, Progress = new Recorder(p => rates.Add(p.LearningRate)) });
        Assert.Equal(20, rates.Count);   // 48 rows in batches of 10: 5 an epoch
        Assert.Equal(Enumerable.Range(0, 20).Select(s => schedule.RateAt(s, 20)), rates);
        Assert.Equal(0.2 / 25, rates[0], 1e-15);
    }

    private sealed class Recorder(Action<BatchProgress> report) : IProgress<BatchProgress>
    {
        public void Report(BatchProgress value) => report(value);
    }

    [Fact]
    public void EmaEvaluatesAndKeepsTheExponentialAverage()
    {
        const double Decay = 0.8;
        const int Every = 2;
        var net = Mlp<double>(108);
        net.Optimizer = new SgdMomentum<double>(0.05, 0.9);
        var trainer = new Trainer<double>(net, Source(), seed: 4);
        double[] Weights() => [.. net.Parameters.SelectMany(p => p.Value.Span.ToArray())];
        double[] expected = Weights();
        int step = 0;
        // Plain EMA leaves the live weights alone: replay the average from those seen after each step.
        var capture = new Recorder(_ =>
        {
            if (++step % Every != 0) return;
            var live = Weights();
            for (int j = 0; j < expected.Length; j++) expected[j] = Decay * expected[j] + (1 - Decay) * live[j];
        });
        var history = trainer.Train(new TrainOptions { Epochs = 3, BatchSize = 12, WeightAveraging = new WeightAveraging(Decay, Every), Progress = capture });

        Assert.Equal(12, step);
        var final = Weights();
        for (int j = 0; j < expected.Length; j++) Assert.Equal(expected[j], final[j], 1e-12);
        // The statistics of the last epoch are those of the weights the network keeps.
        Assert.Equal(history.Final.ValidationLoss, trainer.ValidationStats().Loss, 1e-12);
    }

    [Fact]
    public void LookaheadCopiesTheAverageBackAfterEachUpdate()
    {
        var net = Mlp<double>(4 * 4);
        var averager = new WeightAverager<double>(net, new WeightAveraging(0.75, Every: 3, Power: 2, Lookahead: true));
        var live = NetworkSnapshot<double>.Tensors(net);
        double[] start = [.. live.SelectMany(t => t.Span.ToArray())];
        averager.BeginEpoch(0);      // the average starts as these weights
        foreach (var t in live) t.Span.Fill(1.0);
        averager.AfterStep(0, 9);    // not due: (step + 1) % 3 != 0
        Assert.All(live, t => Assert.All(t.Span.ToArray(), v => Assert.Equal(1.0, v)));
        averager.AfterStep(2, 9);    // due, decay 0.75 · (3/9)²
        double d = 0.75 * Math.Pow(3.0 / 9, 2);
        double[] after = [.. live.SelectMany(t => t.Span.ToArray())];
        for (int j = 0; j < after.Length; j++) Assert.Equal(d * start[j] + (1 - d), after[j], 1e-15);
    }

    [Fact]
    public void TheAverageStartsAsTheWeightsAtTheStartOfItsEpoch()
    {
        const double Decay = 0.6;
        const int Every = 2, StartEpoch = 1;
        var net = Mlp<double>(108);
        net.Optimizer = new SgdMomentum<double>(0.05, 0.9);
        var trainer = new Trainer<double>(net, Source(), seed: 4);
        double[] Weights() => [.. net.Parameters.SelectMany(p => p.Value.Span.ToArray())];
        double[]? expected = null;
        int step = 0;
        var statistics = new List<(double Reported, double Live)>();
        trainer.EpochStarting += epoch => { if (epoch == StartEpoch) expected = Weights(); };
        trainer.EpochCompleted += stats => { if (stats.Epoch >= 0) statistics.Add((stats.ValidationLoss, trainer.ValidationStats().Loss)); };
        // Plain EMA from epoch 1: the due steps of epoch 0 (steps 1, 3) leave no trace, those after blend in.
        var capture = new Recorder(p =>
        {
            if (++step % Every != 0 || p.Epoch < StartEpoch) return;
            var live = Weights();
            for (int j = 0; j < expected!.Length; j++) expected[j] = Decay * expected[j] + (1 - Decay) * live[j];
        });
        trainer.Train(new TrainOptions { Epochs = 3, BatchSize = 12, WeightAveraging = new WeightAveraging(Decay, Every, StartEpoch: StartEpoch), Progress = capture });

        var final = Weights();
        for (int j = 0; j < expected!.Length; j++) Assert.Equal(expected[j], final[j], 1e-12);
        // Before its start epoch there is no average: epoch 0 reports the live weights; after it, the average.
        Assert.Equal(statistics[0].Live, statistics[0].Reported, 1e-12);
        Assert.NotEqual(statistics[1].Live, statistics[1].Reported);
        Assert.Throws<ArgumentOutOfRangeException>(() => trainer.Train(new TrainOptions { Epochs = 1, WeightAveraging = new WeightAveraging(0.5, StartEpoch: -1) }));
    }

    [Fact]
    public void LookaheadPutsTheAverageBackAfterEachEpochDroppingTheStepsSinceItsLastUpdate()
    {
        // 48 training rows in batches of 12: 4 steps an epoch, and an update every 5 steps comes only in epoch 1.
        var net = Mlp<double>(108);
        net.Optimizer = new SgdMomentum<double>(0.05, 0.9);
        double[] Weights() => [.. net.Parameters.SelectMany(p => p.Value.Span.ToArray())];
        double[] start = Weights();
        var trainer = new Trainer<double>(net, Source(), seed: 4);
        var afterEpoch = new List<double[]>();
        trainer.EpochCompleted += stats => { if (stats.Epoch >= 0) afterEpoch.Add(Weights()); };
        trainer.Train(new TrainOptions { Epochs = 2, BatchSize = 12, WeightAveraging = new WeightAveraging(0.5, Every: 5, Lookahead: true) });
        Assert.Equal(start, afterEpoch[0]);        // four steps, no update: the network is back at the average, its start
        Assert.NotEqual(start, afterEpoch[1]);     // the update after step 5 (epoch 1's first) moved the average
    }

    [Fact]
    public void EpochStartingComesBeforeEachEpochAndCanFreezeAParameterForTheRest()
    {
        var net = Mlp<double>(108);
        net.Optimizer = new SgdMomentum<double>(0.05, 0.9, nesterov: true, weightDecay: 0.01);
        var bias = net.Parameters.First(p => p.Name == "bias");
        var trainer = new Trainer<double>(net, Source(), seed: 4);
        var epochs = new List<int>();
        var biasAfter = new List<double[]>();
        trainer.EpochStarting += epoch => { epochs.Add(epoch); bias.Frozen = epoch >= 2; };
        trainer.EpochCompleted += stats => { if (stats.Epoch >= 0) biasAfter.Add(bias.Value.Span.ToArray()); };
        trainer.Train(new TrainOptions { Epochs = 4, BatchSize = 12 });
        Assert.Equal([0, 1, 2, 3], epochs);
        Assert.NotEqual(biasAfter[0], biasAfter[1]);
        Assert.Equal(biasAfter[1], biasAfter[2]);
        Assert.Equal(biasAfter[1], biasAfter[3]);
    }

    [Fact]
    public void LookaheadWithoutDecayIsPlainTraining()
    {
        double[] Run(WeightAveraging? averaging)
        {
            var net = Mlp<double>(108);
            net.Optimizer = new SgdMomentum<double>(0.05, 0.9);
            new Trainer<double>(net, Source(), seed: 4).Train(new TrainOptions { Epochs = 2, BatchSize = 12, WeightAveraging = averaging });
            return [.. net.Parameters.SelectMany(p => p.Value.Span.ToArray())];
        }
        var plain = Run(null);
        Assert.Equal(plain, Run(new WeightAveraging(0, Lookahead: true)));
        Assert.NotEqual(plain, Run(new WeightAveraging(0.5, Lookahead: true)));
    }

    [Fact]
    public void WeightAveragingRefusesCheckpointsAndRestoredBestWeights()
    {
        var trainer = new Trainer<double>(Mlp<double>(108), Source(), seed: 4);
        Assert.Throws<ArgumentException>(() => trainer.Train(new TrainOptions { Epochs = 1, WeightAveraging = new WeightAveraging(0.9), CheckpointPath = "x" }));
        Assert.Throws<ArgumentException>(() => trainer.Train(new TrainOptions { Epochs = 1, WeightAveraging = new WeightAveraging(0.9), EarlyStopping = new EarlyStopping(2) }));
        Assert.Throws<ArgumentOutOfRangeException>(() => trainer.Train(new TrainOptions { Epochs = 1, WeightAveraging = new WeightAveraging(1) }));
        Assert.Throws<ArgumentException>(() => trainer.Train(new TrainOptions { Epochs = 1, StepSchedule = new Triangular(0.1), Schedule = new StepDecay(0.1, 1) }));
    }

    [Fact]
    public void AWarmAugmentedTrainingEpochAllocatesLittle()
    {
        // The gather and the momentum step allocate nothing; what is left is the trainer's per-epoch bookkeeping.
        var net = Mlp<float>(108);
        net.Optimizer = new SgdMomentum<float>(0.05, 0.9, nesterov: true, weightDecay: 5e-4);
        var images = AugmentedImagesTests.Images(count: 60, side: 6, channels: 3);
        var source = new AugmentedImages<float>(images, new ImageAugmentation(2, FlipMode.Alternating, 2), ChannelNormalization.Measure(images), seed: 9);
        var x = new Matrix<float>(0, 108);
        var y = new Matrix<float>(0, 3);
        int[] rows = [.. Enumerable.Range(0, 16)];
        for (int i = 0; i < 5; i++)
        {
            source.GatherTraining(rows, i, x, y);
            net.TrainStep(x, y);
        }
        int epoch = 5;
        Assert.Equal(0, Allocations.Least(() =>
        {
            for (int i = 0; i < 7; i++, epoch++)
            {
                source.GatherTraining(rows, epoch, x, y);
                net.TrainStep(x, y);
            }
        }));
    }
}
