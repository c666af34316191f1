using ScratchNet.Data;
using ScratchNet.Layers;
using ScratchNet.Losses;
using ScratchNet.Training;

namespace ScratchNet.Tests.Training;

/// <summary><see cref="Trainer{T}"/>: split, verbose output, history, batching and divergence.</summary>
public class TrainerTests
{
    [Fact]
    public void VerboseWritesTheStartLineAndOneLinePerEpoch()
    {
        var (trainer, _) = ProbedTrainer(rows: 25);
        var output = new StringWriter();
        trainer.Output = output;

        var history = trainer.Train(epochs: 3, batchSize: 4, verbose: true);

        var lines = output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        for (int i = 0; i < lines.Length; i++)
        {
            Assert.StartsWith($"E: {i - 1}\ttL: ", lines[i]);
            Assert.Equal(history[i].ToReportLine(), lines[i]);
        }
    }

    [Fact]
    public void QuietWritesNothing()
    {
        var (trainer, _) = ProbedTrainer(rows: 25);
        var output = new StringWriter();
        trainer.Output = output;
        trainer.Train(epochs: 2, batchSize: 4);
        Assert.Equal("", output.ToString());
    }

    [Fact]
    public void HistoryStartsBeforeTrainingAndHasOneEntryPerEpoch()
    {
        var (trainer, _) = ProbedTrainer(rows: 25);
        var events = new List<EpochStats>();
        trainer.EpochCompleted += events.Add;

        var history = trainer.Train(epochs: 4, batchSize: 5);

        Assert.Equal([-1, 0, 1, 2, 3], history.Select(e => e.Epoch));
        Assert.Equal(history, events);
        var (loss, accuracy) = trainer.ValidationStats();
        Assert.Equal(loss, history.Final.ValidationLoss);
        Assert.Equal(accuracy, history.Final.ValidationAccuracy);
        Assert.Equal(trainer.TrainStats().Loss, history.Final.TrainLoss);
        Assert.All(history, e => Assert.True(e.Seconds >= 0));
    }

    [Fact]
    public void TrainEvaluationRowsMeasuresTheFirstRowsOfTheSplitEveryEpoch()
    {
        var (sampled, _) = ProbedTrainer(rows: 25);
        var (whole, _) = ProbedTrainer(rows: 25);
        var first = sampled.TrainRows.Take(7).ToArray();

        var history = sampled.Train(new TrainOptions { Epochs = 2, BatchSize = 5, TrainEvaluationRows = 7 });
        var reference = whole.Train(new TrainOptions { Epochs = 2, BatchSize = 5 });

        var (loss, accuracy) = sampled.Network.Evaluate(sampled.Samples, first);
        Assert.Equal(loss, history.Final.TrainLoss);
        Assert.Equal(accuracy, history.Final.TrainAccuracy);
        Assert.NotEqual(reference.Final.TrainLoss, history.Final.TrainLoss);
        // The sample changes what is measured, not what is trained: weights and validation are those of the whole run.
        Assert.Equal(reference.Select(e => e.ValidationLoss), history.Select(e => e.ValidationLoss));
        Assert.Equal(whole.TrainStats().Loss, sampled.TrainStats().Loss);
    }

    [Fact]
    public void TrainEvaluationRowsBeyondTheSetMeasuresItAllAndNegativeThrows()
    {
        var (trainer, _) = ProbedTrainer(rows: 25);
        var history = trainer.Train(new TrainOptions { Epochs = 1, BatchSize = 5, TrainEvaluationRows = 1000 });
        Assert.Equal(trainer.TrainStats().Loss, history.Final.TrainLoss);
        Assert.Throws<ArgumentOutOfRangeException>(() => trainer.Train(new TrainOptions { TrainEvaluationRows = -1 }));
    }

    [Fact]
    public void ZeroEpochsRecordsOnlyTheStart()
    {
        var (trainer, probe) = ProbedTrainer(rows: 25);
        var history = trainer.Train(epochs: 0);
        Assert.Equal(-1, Assert.Single(history).Epoch);
        Assert.Empty(probe.TrainingBatches);
    }

    [Fact]
    public void EachEpochVisitsEveryTrainingRowOnceInShuffledBatchesWithASmallerLastBatch()
    {
        var (trainer, probe) = ProbedTrainer(rows: 25);   // 20 training rows after the 80/20 split
        Assert.Equal(20, trainer.TrainRows.Count);
        Assert.Equal(5, trainer.ValidationRows.Count);
        var trainIds = trainer.TrainRows.Select(r => (double)r).Order().ToArray();   // feature 0 of row r is r

        trainer.Train(epochs: 3, batchSize: 6);

        Assert.Equal(12, probe.TrainingBatches.Count);
        var epochs = probe.TrainingBatches.Chunk(4).ToArray();
        foreach (var batches in epochs)
        {
            Assert.Equal([6, 6, 6, 2], batches.Select(b => b.Length));
            Assert.Equal(trainIds, batches.SelectMany(b => b).Order());
        }
        Assert.NotEqual(epochs[0].SelectMany(b => b), epochs[1].SelectMany(b => b));
    }

    [Fact]
    public void BatchLargerThanTheSetIsOneBatch()
    {
        var (trainer, probe) = ProbedTrainer(rows: 25);
        trainer.Train(epochs: 1, batchSize: 1000);
        Assert.Equal(20, Assert.Single(probe.TrainingBatches).Length);
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(1, -1)]
    [InlineData(-1, 1)]
    public void NonPositiveBatchSizeOrNegativeEpochsThrows(int epochs, int batchSize)
    {
        var (trainer, _) = ProbedTrainer(rows: 25);
        Assert.Throws<ArgumentOutOfRangeException>(() => trainer.Train(epochs, batchSize));
    }

    [Fact]
    public void AbsurdLearningRateThrowsDivergenceWithTheEpoch()
    {
        var data = ToyData.Linear<float>(1_000, seed: 2);
        var net = new Network<float>(2, 2, Loss.L2, regularizationFactor: 0.01, learningRate: 1e3, seed: 2);
        net.AddLinear(10, w: 0.05, regularization: true);
        net.AddRelu();
        net.AddLinear(2, w: 0.05, regularization: true);
        var trainer = new Trainer<float>(net, data.Features, data.Targets, seed: 2);

        var e = Assert.Throws<DivergenceException>(() => trainer.Train(epochs: 5, batchSize: 1));

        Assert.Equal(0, e.Epoch);
        Assert.Contains("epoch 0", e.Message);
    }

    [Fact]
    public void ConstructorChecksDataAgainstTheNetwork()
    {
        var net = new Network<double>(2, 2);
        net.AddLinear(2, w: 0.1);
        Assert.Throws<ShapeMismatchException>(() => new Trainer<double>(net, new Matrix<double>(10, 3), new Matrix<double>(10, 2)));
        Assert.Throws<ShapeMismatchException>(() => new Trainer<double>(net, new Matrix<double>(10, 2), new Matrix<double>(10, 3)));
        Assert.Throws<ShapeMismatchException>(() => new Trainer<double>(net, new Matrix<double>(10, 2), new Matrix<double>(9, 2)));
    }

    [Fact]
    public void ConstructorBuildsTheNetwork()
    {
        var net = new Network<double>(2, 3);
        net.AddLinear(2, w: 0.1);
        Assert.Throws<NetworkBuildException>(() => new Trainer<double>(net, new Matrix<double>(10, 2), new Matrix<double>(10, 3)));
    }

    [Fact]
    public void SplitRowsCoverTheDataOnce()
    {
        var (trainer, _) = ProbedTrainer(rows: 25);
        Assert.Empty(trainer.TrainRows.Intersect(trainer.ValidationRows));
        Assert.Equal(Enumerable.Range(0, 25), trainer.TrainRows.Concat(trainer.ValidationRows).Order());
        // The source hands out a row's features and targets together: x = (r, 1), y = (r, −r) in this data.
        var x = new Matrix<double>(0, 2);
        var y = new Matrix<double>(0, 2);
        trainer.Samples.Gather([.. trainer.ValidationRows], x, y);
        for (int i = 0; i < x.Rows; i++)
        {
            double r = trainer.ValidationRows[i];
            Assert.Equal([r, 1.0], x.Row(i).ToArray());
            Assert.Equal([r, -r], y.Row(i).ToArray());
        }
    }

    [Fact]
    public void SampleSourceOfTheWrongWidthThrows()
    {
        var net = new Network<double>(2, 2);
        net.AddLinear(2, w: 0.1);
        var wrongFeatures = new Dataset<double>("wide", new Matrix<double>(10, 3), new Matrix<double>(10, 2));
        var wrongTargets = new Dataset<double>("narrow", new Matrix<double>(10, 2), new Matrix<double>(10, 1));
        Assert.Throws<ShapeMismatchException>(() => new Trainer<double>(net, wrongFeatures));
        Assert.Throws<ShapeMismatchException>(() => new Trainer<double>(net, wrongTargets));
    }

    // A network (probe, linear 2→2) on `rows` samples whose first feature is the row id; the probe records the
    // ids of every batch trained on (only training runs Backward).
    private static (Trainer<double> Trainer, ProbeLayer Probe) ProbedTrainer(int rows)
    {
        var x = new Matrix<double>(rows, 2);
        var y = new Matrix<double>(rows, 2);
        for (int i = 0; i < rows; i++)
        {
            x[i, 0] = i;
            x[i, 1] = 1;
            y[i, 0] = i;
            y[i, 1] = -i;
        }
        var net = new Network<double>(2, 2, Loss.L2, learningRate: 1e-5, seed: 3);
        var probe = net.Add(new ProbeLayer(2));
        net.AddLinear(2, w: 0.1);
        return (new Trainer<double>(net, x, y, seed: 3), probe);
    }

    // Identity layer that records column 0 of each batch it runs forward in training mode. (Not in its backward pass: a
    // training step runs no backward through a first layer without parameters.)
    private sealed class ProbeLayer(int size) : Layer<double>(size, size)
    {
        private Matrix<double>? _input;

        public List<double[]> TrainingBatches { get; } = [];

        public override string Kind => "probe";

        protected override Matrix<double>? LastOutput => _input;

        protected override Matrix<double> ForwardCore(Matrix<double> input)
        {
            if (Training) TrainingBatches.Add([.. Enumerable.Range(0, input.Rows).Select(r => input[r, 0])]);
            return _input = input;
        }

        protected override Matrix<double> BackwardCore(Matrix<double> outputGradient) => outputGradient;
    }
}
