using System.Runtime.InteropServices;
using ScratchNet.Data;
using ScratchNet.Losses;
using ScratchNet.Optimizers;
using ScratchNet.Optimizers.Schedules;
using ScratchNet.Training;

namespace ScratchNet.Tests.Training;

/// <summary>
/// <see cref="Trainer{T}.Train(TrainOptions, CancellationToken)"/>: progress, cancellation, early stopping,
/// the NaN guard, schedules, the test set and batch norm's one-row batches.
/// </summary>
public class TrainOptionsTests
{
    private static readonly Dataset<float> Data = Digits.Load<float>();

    [Fact]
    public void ProgressReportsEveryBatchInOrder()
    {
        var trainer = DigitsTrainer(out _);
        var reports = new List<BatchProgress>();
        trainer.Train(new TrainOptions { Epochs = 2, BatchSize = 100, Progress = new Recorder<BatchProgress>(reports.Add) });

        int rows = trainer.TrainRows.Count, batches = (rows + 99) / 100;
        Assert.Equal(2 * batches, reports.Count);
        for (int i = 0; i < reports.Count; i++)
        {
            var r = reports[i];
            Assert.Equal((i / batches, i % batches, batches), (r.Epoch, r.Batch, r.BatchCount));
            Assert.Equal(Math.Min(rows, (r.Batch + 1) * 100), r.SamplesDone);
            Assert.True(double.IsFinite(r.Loss) && r.Loss > 0);
            Assert.Equal(0.1, r.LearningRate);
        }
    }

    [Fact]
    public void CancellationStopsAfterTheCurrentBatchAndReturnsTheHistorySoFar()
    {
        var trainer = DigitsTrainer(out _);
        using var cancel = new CancellationTokenSource();
        var reports = new List<BatchProgress>();
        var progress = new Recorder<BatchProgress>(p =>
        {
            reports.Add(p);
            if (p.Epoch == 1 && p.Batch == 4) cancel.Cancel();
        });

        var history = trainer.Train(new TrainOptions { Epochs = 5, BatchSize = 100, Progress = progress }, cancel.Token);

        Assert.Equal(StopReason.Cancelled, history.StopReason);
        Assert.Equal([-1, 0], history.Select(e => e.Epoch));   // epoch 1 did not finish
        Assert.Equal((1, 4), (reports[^1].Epoch, reports[^1].Batch));
        Assert.Equal(StopReason.Completed, trainer.Train(new TrainOptions { Epochs = 1, BatchSize = 100 }).StopReason);
    }

    [Fact]
    public void ACancelledTokenBeforeTrainingTrainsNothing()
    {
        var trainer = DigitsTrainer(out var net);
        var before = Weights(net);
        var history = trainer.Train(new TrainOptions { Epochs = 3, BatchSize = 100 }, new CancellationToken(canceled: true));
        Assert.Equal(StopReason.Cancelled, history.StopReason);
        Assert.Single(history);
        Assert.Equal(before, Weights(net));
    }

    [Fact]
    public void EarlyStoppingStopsAfterThePatienceAndRestoresTheBestEpochsWeights()
    {
        // A min delta no epoch can beat makes epoch 0 the best: training stops after epochs 1..3 bring nothing.
        var trainer = DigitsTrainer(out var net);
        var after = new Dictionary<int, byte[]>();
        trainer.EpochCompleted += e => after[e.Epoch] = Weights(net);

        var history = trainer.Train(new TrainOptions { Epochs = 10, BatchSize = 50, EarlyStopping = new EarlyStopping(Patience: 3, MinDelta: 1e9) });

        Assert.Equal(StopReason.EarlyStopped, history.StopReason);
        Assert.Equal([-1, 0, 1, 2, 3], history.Select(e => e.Epoch));
        Assert.Equal(0, history.BestEpoch);
        Assert.Equal(after[0], Weights(net));
        Assert.NotEqual(after[3], after[0]);
    }

    [Theory]
    [InlineData(Metric.ValidationLoss)]
    [InlineData(Metric.ValidationAccuracy)]
    public void TheRestoredWeightsAreThoseOfTheEpochWithTheBestMonitoredValue(Metric monitor)
    {
        // A big learning rate on few rows makes the validation curve wander; whatever its shape, the best epoch's weights come back.
        var x = new Matrix<float>(300, Digits.Features, Data.Features.Span[..(300 * Digits.Features)]);
        var y = new Matrix<float>(300, Digits.Classes, Data.Targets.Span[..(300 * Digits.Classes)]);
        var net = DigitsNetwork(learningRate: 0.5, seed: 5);
        var trainer = new Trainer<float>(net, x, y, validationFraction: 0.5, seed: 5);
        var after = new Dictionary<int, byte[]>();
        trainer.EpochCompleted += e => after[e.Epoch] = Weights(net);

        var history = trainer.Train(new TrainOptions { Epochs = 12, BatchSize = 10, EarlyStopping = new EarlyStopping(Patience: 4, monitor) });

        var ran = history.Where(e => e.Epoch >= 0).ToList();
        var best = monitor == Metric.ValidationLoss
            ? ran.First(e => e.ValidationLoss == ran.Min(r => r.ValidationLoss))
            : ran.First(e => e.ValidationAccuracy == ran.Max(r => r.ValidationAccuracy));
        Assert.Equal(best.Epoch, history.BestEpoch);
        Assert.Equal(after[best.Epoch], Weights(net));
        if (history.StopReason == StopReason.EarlyStopped) Assert.Equal(best.Epoch + 4, history.Final.Epoch);
    }

    [Fact]
    public void WithoutRestoringTheLastWeightsStay()
    {
        var trainer = DigitsTrainer(out var net);
        var history = trainer.Train(new TrainOptions { Epochs = 10, BatchSize = 50, EarlyStopping = new EarlyStopping(2, MinDelta: 1e9, RestoreBestWeights: false) });
        Assert.Equal(2, history.Final.Epoch);
        Assert.Equal(history.Final.ValidationLoss, trainer.ValidationStats().Loss);
    }

    [Fact]
    public void TheNanGuardStopsAtTheDivergingBatchAndRestoresTheEpochsStartingWeights()
    {
        // Epochs 0 and 1 at rate 0.01; the step schedule then multiplies it by 10⁸: epoch 2 diverges (the L2
        // step's keep factor 1 − 2·lr·λ becomes −199, so the weights overflow within a few dozen batches).
        var trainer = DigitsTrainer(out var net, learningRate: 0.01);
        var after = new Dictionary<int, byte[]>();
        trainer.EpochCompleted += e => after[e.Epoch] = Weights(net);
        var options = new TrainOptions { Epochs = 5, BatchSize = 20, Schedule = new StepDecay(0.01, stepSize: 2, gamma: 1e8) };

        var e = Assert.Throws<DivergenceException>(() => trainer.Train(options));

        Assert.Equal(2, e.Epoch);
        Assert.InRange(e.Batch, 1, 71);
        Assert.Contains($"epoch 2, batch {e.Batch}", e.Message);
        Assert.Equal([-1, 0, 1], after.Keys.Order());
        Assert.Equal(after[1], Weights(net));
        Assert.True(double.IsFinite(trainer.ValidationStats().Loss));
    }

    [Fact]
    public void TheNanGuardRestoresAdamsStateToo()
    {
        var trainer = DigitsTrainer(out var net);
        var adam = new Adam<float>(1e-3);
        net.Optimizer = adam;
        trainer.Train(new TrainOptions { Epochs = 1, BatchSize = 100 });
        var moments = adam.State.Select(s => s.Span.ToArray()).ToList();
        long steps = adam.StepCount;
        // An infinite-ish rate overflows the weights within the epoch.
        var e = Assert.Throws<DivergenceException>(() => trainer.Train(new TrainOptions { Epochs = 1, BatchSize = 100, Schedule = new ExponentialDecay(1e38, 1) }));
        Assert.Equal(0, e.Epoch);
        Assert.Equal(steps, adam.StepCount);
        Assert.Equal(moments, adam.State.Select(s => s.Span.ToArray()).ToList());
    }

    [Fact]
    public void TheScheduleSetsTheRateOfEachEpoch()
    {
        var trainer = DigitsTrainer(out var net);
        var adam = new Adam<float>(1e-3);
        net.Optimizer = adam;
        var schedule = new WarmupCosine(2e-3, warmupEpochs: 2, totalEpochs: 5);
        var rates = new SortedDictionary<int, double>();
        trainer.Train(new TrainOptions { Epochs = 5, BatchSize = 200, Schedule = schedule, Progress = new Recorder<BatchProgress>(p => rates[p.Epoch] = p.LearningRate) });
        Assert.Equal(Enumerable.Range(0, 5).Select(schedule.RateAt), rates.Values);
        Assert.Equal(schedule.RateAt(4), adam.LearningRate);
    }

    [Fact]
    public void ReduceOnPlateauIsFedTheMonitoredMetricAfterEachEpoch()
    {
        var trainer = DigitsTrainer(out _);
        var rates = new SortedDictionary<int, double>();
        var plateau = new ReduceOnPlateau(0.1, factor: 0.5, patience: 0, threshold: 0.3);
        var history = trainer.Train(new TrainOptions { Epochs = 6, BatchSize = 100, Plateau = plateau, Progress = new Recorder<BatchProgress>(p => rates[p.Epoch] = p.LearningRate) });

        var replay = new ReduceOnPlateau(0.1, factor: 0.5, patience: 0, threshold: 0.3);
        var expected = new List<double> { 0.1 };
        foreach (var e in history.Skip(1).SkipLast(1)) expected.Add(replay.Observe(e.ValidationLoss));
        Assert.Equal(expected, rates.Values);
        Assert.Contains(rates.Values, r => r < 0.1);   // a 30 % gain is not met every epoch
    }

    [Fact]
    public void InconsistentOptionsAreRefused()
    {
        var trainer = DigitsTrainer(out _);
        Assert.Throws<ArgumentException>(() => trainer.Train(new TrainOptions { Schedule = new StepDecay(0.1, 1), Plateau = new ReduceOnPlateau(0.1) }));
        Assert.Throws<ArgumentException>(() => trainer.Train(new TrainOptions { Plateau = new ReduceOnPlateau(0.1), PlateauMonitor = Metric.ValidationAccuracy }));
        Assert.Throws<ArgumentOutOfRangeException>(() => trainer.Train(new TrainOptions { EarlyStopping = new EarlyStopping(0) }));
        Assert.Throws<ArgumentOutOfRangeException>(() => trainer.Train(new TrainOptions { CheckpointEvery = -1 }));
    }

    [Fact]
    public void ATestSetIsEvaluatedEachEpochAndAddsTwoCsvColumns()
    {
        var trainer = DigitsTrainer(out var net);
        var test = new Dataset<float>("test", Slice(Data.Features, 1500, 297), Slice(Data.Targets, 1500, 297));
        trainer.TestSamples = test;
        var lines = new List<string>();
        var output = new StringWriter();
        trainer.Output = output;

        var history = trainer.Train(new TrainOptions { Epochs = 2, BatchSize = 100, Verbose = true });

        Assert.True(history.HasTestSet);
        Assert.All(history, e => Assert.True(double.IsFinite(e.TestLoss) && e.TestAccuracy is >= 0 and <= 1));
        Assert.Equal(net.Evaluate(test.Features, test.Targets), (history.Final.TestLoss, history.Final.TestAccuracy));
        var csv = history.ToCsv().Split('\n');
        Assert.Equal(History.CsvHeader + ",test_loss,test_acc", csv[0]);
        Assert.Equal(8, csv[1].Split(',').Length);
        Assert.Contains("\tTL: ", output.ToString());
        Assert.Equal(History.CsvHeader, new Trainer<float>(DigitsNetwork(0.1, 1), Data.Features, Data.Targets).Train(0).ToCsv().Split('\n')[0]);
    }

    [Fact]
    public void WithBatchNormALastBatchOfOneRowJoinsTheBatchBefore()
    {
        // 1,438 training rows in batches of 3 leave one row over: the last batch takes 4.
        var net = new Network<float>(Digits.Features, Digits.Classes, Loss.CrossEntropy, learningRate: 0.05, seed: 2);
        net.AddLinear(32);
        net.AddBatchNorm();
        net.AddRelu();
        net.AddLinear(Digits.Classes);
        net.AddSoftmax();
        var trainer = new Trainer<float>(net, Data.Features, Data.Targets, seed: 2);
        Assert.Equal(1, trainer.TrainRows.Count % 3);
        var reports = new List<BatchProgress>();

        trainer.Train(new TrainOptions { Epochs = 1, BatchSize = 3, Progress = new Recorder<BatchProgress>(reports.Add) });

        Assert.Equal(trainer.TrainRows.Count / 3, reports.Count);
        Assert.Equal(trainer.TrainRows.Count, reports[^1].SamplesDone);
        Assert.Equal(4, reports[^1].SamplesDone - reports[^2].SamplesDone);
    }

    internal static Network<float> DigitsNetwork(double learningRate, ulong seed)
    {
        var net = new Network<float>(Digits.Features, Digits.Classes, Loss.CrossEntropy, regularizationFactor: 1e-4, learningRate: learningRate, seed: seed);
        net.AddLinear(32, regularization: true);
        net.AddRelu();
        net.AddLinear(Digits.Classes, regularization: true);
        net.AddSoftmax();
        return net;
    }

    private static Trainer<float> DigitsTrainer(out Network<float> net, double learningRate = 0.1)
    {
        net = DigitsNetwork(learningRate, seed: 1);
        return new Trainer<float>(net, Data.Features, Data.Targets, seed: 1);
    }

    internal static byte[] Weights(Network<float> net) => [.. net.Parameters.SelectMany(p => MemoryMarshal.AsBytes(p.Value.Span).ToArray())];

    private static Matrix<float> Slice(Matrix<float> t, int start, int rows) => new(rows, t.Cols, t.Span.Slice(start * t.Cols, rows * t.Cols));

    // IProgress that runs the callback synchronously (Progress<T> posts to a synchronisation context).
    internal sealed class Recorder<TValue>(Action<TValue> report) : IProgress<TValue>
    {
        public void Report(TValue value) => report(value);
    }
}
