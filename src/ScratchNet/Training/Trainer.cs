using System.Diagnostics;
using System.Numerics;
using ScratchNet.Data;

namespace ScratchNet.Training;

/// <summary>
/// The report's <c>Client</c>: holds a network and a dataset split into training and validation
/// rows, trains with mini-batch SGD, and reports loss and accuracy after every epoch.
/// </summary>
public sealed class Trainer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Rng _rng;
    private readonly int[] _trainRows;
    private readonly int[] _validationRows;

    /// <summary>Splits (<paramref name="x"/>, <paramref name="y"/>) into shuffled training and validation sets.</summary>
    /// <param name="network">The network to train.</param>
    /// <param name="x">Inputs, (samples, network inputs).</param>
    /// <param name="y">Targets, (samples, network outputs): one-hot labels or regression values.</param>
    /// <param name="validationFraction">Share of samples held out for validation; the report's 0.2.</param>
    /// <param name="stratify">Split each class (argmax of y) separately, keeping class proportions.</param>
    /// <param name="seed">Seeds the split and every epoch's shuffle.</param>
    /// <exception cref="ShapeMismatchException">x or y does not fit the network, or they differ in rows.</exception>
    public Trainer(Network<T> network, Tensor<T> x, Tensor<T> y, double validationFraction = 0.2, bool stratify = false, ulong seed = 0)
        : this(network, new Dataset<T>("data", x, y), validationFraction, stratify, seed)
    {
    }

    /// <summary>Splits <paramref name="samples"/> into shuffled training and validation rows; batches are drawn from the source as training goes.</summary>
    /// <exception cref="ShapeMismatchException">The samples' widths do not fit the network.</exception>
    public Trainer(Network<T> network, ISampleSource<T> samples, double validationFraction = 0.2, bool stratify = false, ulong seed = 0)
    {
        network.Build();
        network.CheckSource(samples);
        Network = network;
        Samples = samples;
        _rng = new Rng(seed);
        (_trainRows, _validationRows) = DataSplit.Split(samples, validationFraction, stratify, _rng);
    }

    /// <summary>The network being trained.</summary>
    public Network<T> Network { get; }

    /// <summary>All samples, training and validation.</summary>
    public ISampleSource<T> Samples { get; }

    /// <summary>The rows of <see cref="Samples"/> trained on.</summary>
    public IReadOnlyList<int> TrainRows => _trainRows;

    /// <summary>The rows of <see cref="Samples"/> held out for validation.</summary>
    public IReadOnlyList<int> ValidationRows => _validationRows;

    /// <summary>Where <see cref="Train"/> writes its epoch lines when verbose; standard output by default.</summary>
    public TextWriter Output { get; set; } = Console.Out;

    /// <summary>Raised after each epoch (and once for epoch −1) with that epoch's statistics.</summary>
    public event Action<EpochStats>? EpochCompleted;

    /// <summary>Loss (penalty included) and accuracy on the training set.</summary>
    public (double Loss, double Accuracy) TrainStats() => Network.Evaluate(Samples, _trainRows);

    /// <summary>Loss (penalty included) and accuracy on the validation set.</summary>
    public (double Loss, double Accuracy) ValidationStats() => Network.Evaluate(Samples, _validationRows);

    /// <summary>The network's outputs for <paramref name="x"/>.</summary>
    public Tensor<T> Predict(Tensor<T> x) => Network.Predict(x);

    /// <summary>
    /// Trains for <paramref name="epochs"/> passes over the shuffled training set in batches of
    /// <paramref name="batchSize"/> (the last batch of an epoch may be smaller). When
    /// <paramref name="verbose"/>, writes the report's <c>E: -1</c> line and one line per epoch to <see cref="Output"/>.
    /// </summary>
    /// <returns>The statistics before training (epoch −1) and after each epoch.</returns>
    /// <exception cref="DivergenceException">The training loss became NaN or infinite; the message names the epoch.</exception>
    public History Train(int epochs, int batchSize = 1, bool verbose = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epochs);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        var history = new List<EpochStats>(epochs + 1);
        var clock = Stopwatch.StartNew();
        Record(-1);

        int[] order = [.. _trainRows];
        var xBatch = new Tensor<T>(0, Samples.FeatureCount);
        var yBatch = new Tensor<T>(0, Samples.TargetCount);
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            clock.Restart();
            _rng.Shuffle<int>(order);
            for (int start = 0; start < order.Length; start += batchSize)
            {
                var rows = order.AsSpan(start, Math.Min(batchSize, order.Length - start));
                Samples.Gather(rows, xBatch, yBatch);
                Network.TrainStep(xBatch, yBatch);
            }
            var stats = Record(epoch);
            if (!double.IsFinite(stats.TrainLoss))
                throw new DivergenceException(
                    $"Training diverged in epoch {epoch}: the training loss is {stats.TrainLoss}. Lower the learning rate or the initial weight scale.", epoch);
        }
        return new History(history);

        EpochStats Record(int epoch)
        {
            var (trainLoss, trainAccuracy) = TrainStats();
            var (validationLoss, validationAccuracy) = ValidationStats();
            var stats = new EpochStats(epoch, trainLoss, trainAccuracy, validationLoss, validationAccuracy, clock.Elapsed.TotalSeconds);
            history.Add(stats);
            if (verbose)
            {
                Output.WriteLine(stats.ToReportLine());
                Output.Flush();
            }
            EpochCompleted?.Invoke(stats);
            return stats;
        }
    }
}
