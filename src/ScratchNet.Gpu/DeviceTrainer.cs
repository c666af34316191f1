using System.Diagnostics;
using ScratchNet.Data;
using ScratchNet.Gpu.Backends;
using ScratchNet.Training;

namespace ScratchNet.Gpu;

/// <summary>
/// <see cref="Trainer{T}"/>'s loop on a backend: the same seeded split and the same per-epoch shuffles (so a
/// run visits the samples in the same order as on the CPU), the report's epoch lines, the same
/// <see cref="History"/>. The whole dataset is copied to the device once; each step gathers its batch there
/// by the epoch's order, and the epoch's statistics are summed there and read back once per epoch.
/// </summary>
public sealed class DeviceTrainer : IDisposable
{
    /// <summary>Rows per evaluation pass.</summary>
    public const int EvaluationChunk = 4096;

    private readonly IBackend _backend;
    private readonly Rng _rng;
    private readonly int[] _trainRows, _validationRows;
    private readonly DeviceBuffer<float> _allX, _allY;
    private readonly DeviceBuffer<int> _trainIndex, _validationIndex, _order;
    private readonly DeviceBuffer<double> _sums;
    private DeviceNetwork? _device;
    private DeviceBuffer<float>? _x, _y;

    /// <summary>Splits <paramref name="samples"/> as <see cref="Trainer{T}"/> does and copies them to <paramref name="backend"/>.</summary>
    /// <exception cref="DeviceException">The network cannot run on a device (see <see cref="DeviceNetwork.WhyUnsupported"/>).</exception>
    /// <exception cref="ShapeMismatchException">The samples' widths do not fit the network.</exception>
    public DeviceTrainer(Network<float> network, ISampleSource<float> samples, IBackend backend,
                         double validationFraction = 0.2, bool stratify = false, ulong seed = 0)
    {
        network.Build();
        if (samples.FeatureCount != network.Inputs || samples.TargetCount != network.Outputs)
            throw new ShapeMismatchException(
                $"The samples have {samples.FeatureCount} features and {samples.TargetCount} targets, but the network takes {network.Inputs} inputs and gives {network.Outputs} outputs.");
        if (DeviceNetwork.WhyUnsupported(network) is { } reason) throw new DeviceException(reason);
        Network = network;
        Samples = samples;
        _backend = backend;
        _rng = new Rng(seed);
        (_trainRows, _validationRows) = DataSplit.Split(samples, validationFraction, stratify, _rng);

        _allX = backend.Allocate<float>((long)samples.Count * samples.FeatureCount);
        _allY = backend.Allocate<float>((long)samples.Count * samples.TargetCount);
        UploadSamples();
        _trainIndex = UploadIndex(_trainRows);
        _validationIndex = UploadIndex(_validationRows);
        _order = backend.Allocate<int>(_trainRows.Length);
        _sums = backend.Allocate<double>(5);
    }

    /// <summary>The network being trained; its parameters hold the device's weights after every epoch.</summary>
    public Network<float> Network { get; }

    /// <summary>All samples, training and validation.</summary>
    public ISampleSource<float> Samples { get; }

    /// <summary>Where the steps run.</summary>
    public IBackend Backend => _backend;

    /// <summary>The rows of <see cref="Samples"/> trained on.</summary>
    public IReadOnlyList<int> TrainRows => _trainRows;

    /// <summary>The rows of <see cref="Samples"/> held out for validation.</summary>
    public IReadOnlyList<int> ValidationRows => _validationRows;

    /// <summary>Where <see cref="Train"/> writes its epoch lines when verbose; standard output by default.</summary>
    public TextWriter Output { get; set; } = Console.Out;

    /// <summary>Raised after each epoch (and once for epoch −1) with that epoch's statistics.</summary>
    public event Action<EpochStats>? EpochCompleted;

    /// <summary>Loss (penalty included) and accuracy on the training set, computed on the device.</summary>
    public (double Loss, double Accuracy) TrainStats()
    {
        var (train, _) = Statistics(validation: false);
        return train;
    }

    /// <summary>Loss (penalty included) and accuracy on the validation set, computed on the device.</summary>
    public (double Loss, double Accuracy) ValidationStats()
    {
        var (_, validation) = Statistics(validation: true);
        return validation;
    }

    /// <summary>
    /// Trains for <paramref name="epochs"/> passes in batches of <paramref name="batchSize"/>, as
    /// <see cref="Trainer{T}.Train(int, int, bool)"/> does; the host waits for the device once per epoch, for the statistics.
    /// When <paramref name="cancel"/> fires, training stops after the batch that is running: the network keeps the
    /// weights trained so far and the history (complete epochs only) ends with <see cref="StopReason.Cancelled"/>.
    /// </summary>
    /// <exception cref="DivergenceException">
    /// The training loss after an epoch is NaN or infinite; the message names the epoch, the network keeps the weights of
    /// the epoch before, and the exception's <see cref="DivergenceException.History"/> the epochs up to it.
    /// </exception>
    public History Train(int epochs, int batchSize = 1, bool verbose = false, CancellationToken cancel = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epochs);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        var device = Prepare(batchSize);
        var history = new List<EpochStats>(epochs + 1);
        var clock = Stopwatch.StartNew();
        Record(-1);

        int[] order = [.. _trainRows];
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            clock.Restart();
            _rng.Shuffle<int>(order);
            _backend.Upload<int>(order, _order);
            for (int start = 0; start < order.Length; start += batchSize)
            {
                if (cancel.IsCancellationRequested)
                {
                    device.CopyToHost();
                    return new History(history, stopReason: StopReason.Cancelled);
                }
                int rows = Math.Min(batchSize, order.Length - start);
                _backend.GatherBatch(_allX, Samples.FeatureCount, _allY, Samples.TargetCount, _order, start, rows, _x!, _y!);
                device.TrainStep(_x!, _y!, rows);
            }
            Record(epoch);
        }
        return new History(history);

        void Record(int epoch)
        {
            var ((trainLoss, trainAccuracy), (validationLoss, validationAccuracy)) = Statistics(validation: true);
            // The statistics waited for the device; the time includes the epoch's every step.
            var stats = new EpochStats(epoch, trainLoss, trainAccuracy, validationLoss, validationAccuracy, clock.Elapsed.TotalSeconds);
            if (epoch >= 0 && !double.IsFinite(trainLoss))
            {
                // The network's parameters still hold the last good epoch's weights (copied after each epoch), and
                // the device gets them back: as the CPU trainer's guard, but checked per epoch, since reading the
                // loss of every batch would make the host wait for the GPU at every step.
                device.CopyFromHost();
                throw new DivergenceException(
                    $"Training diverged in epoch {epoch}: the training loss after it is {trainLoss}. The weights are back to those at the start of epoch {epoch}. " +
                    "Lower the learning rate or the initial weight scale.", epoch) { History = new History(history) };
            }
            device.CopyToHost();
            history.Add(stats);
            if (verbose)
            {
                Output.WriteLine(stats.ToReportLine());
                Output.Flush();
            }
            EpochCompleted?.Invoke(stats);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _device?.Dispose();
        _x?.Dispose();
        _y?.Dispose();
        _allX.Dispose();
        _allY.Dispose();
        _trainIndex.Dispose();
        _validationIndex.Dispose();
        _order.Dispose();
        _sums.Dispose();
    }

    // Train and (when asked) validation loss and accuracy: summed on the device, read back once.
    private ((double, double) Train, (double, double) Validation) Statistics(bool validation)
    {
        var device = Prepare(1);
        _backend.Fill(_sums, 0);
        Sum(_trainIndex, _trainRows.Length, slot: 0);
        if (validation) Sum(_validationIndex, _validationRows.Length, slot: 2);
        device.AccumulateSquaredWeights(_sums, slot: 4);
        Span<double> sums = stackalloc double[5];
        _backend.Download<double>(_sums, sums);
        double penalty = Network.RegularizationFactor * sums[4];
        return (Mean(sums[0], sums[1], _trainRows.Length), validation ? Mean(sums[2], sums[3], _validationRows.Length) : (double.NaN, double.NaN));

        (double, double) Mean(double loss, double correct, int count) =>
            count == 0 ? (double.NaN, double.NaN) : (loss / count + penalty, correct / count);

        void Sum(DeviceBuffer<int> rows, int count, int slot)
        {
            for (int start = 0; start < count; start += EvaluationChunk)
            {
                int n = Math.Min(EvaluationChunk, count - start);
                _backend.GatherBatch(_allX, Samples.FeatureCount, _allY, Samples.TargetCount, rows, start, n, _x!, _y!);
                device.Evaluate(_x!, _y!, n, _sums, slot);
            }
        }
    }

    // The device network and batch buffers, large enough for batches of batchSize and for evaluation chunks.
    private DeviceNetwork Prepare(int batchSize)
    {
        int rows = Math.Max(batchSize, EvaluationChunk);
        if (_device is { } existing && existing.MaxRows >= rows) return existing;
        _device?.Dispose();
        _x?.Dispose();
        _y?.Dispose();
        _device = new DeviceNetwork(Network, _backend, rows);
        _x = _backend.Allocate<float>((long)rows * Samples.FeatureCount);
        _y = _backend.Allocate<float>((long)rows * Samples.TargetCount);
        return _device;
    }

    private void UploadSamples()
    {
        const int Chunk = 4096;
        var x = new Matrix<float>(0, Samples.FeatureCount);
        var y = new Matrix<float>(0, Samples.TargetCount);
        var rows = new int[Chunk];
        for (int start = 0; start < Samples.Count; start += Chunk)
        {
            int n = Math.Min(Chunk, Samples.Count - start);
            for (int i = 0; i < n; i++) rows[i] = start + i;
            Samples.Gather(rows.AsSpan(0, n), x, y);
            _backend.Upload<float>(x.Span, _allX, (long)start * Samples.FeatureCount);
            _backend.Upload<float>(y.Span, _allY, (long)start * Samples.TargetCount);
        }
    }

    private DeviceBuffer<int> UploadIndex(int[] rows)
    {
        var buffer = _backend.Allocate<int>(rows.Length);
        _backend.Upload<int>(rows, buffer);
        return buffer;
    }
}
