using System.Globalization;
using System.Text;

namespace ScratchNet.Training;

/// <summary>
/// One line of a training history: the epoch (−1 for the state before training), loss and accuracy
/// on the training and validation sets after it, the epoch's wall-clock seconds, and, when the trainer
/// has a held-out test set (<see cref="Trainer{T}.TestSamples"/>), loss and accuracy on it (NaN otherwise).
/// </summary>
public readonly record struct EpochStats(int Epoch, double TrainLoss, double TrainAccuracy, double ValidationLoss, double ValidationAccuracy, double Seconds,
                                         double TestLoss = double.NaN, double TestAccuracy = double.NaN)
{
    /// <summary>
    /// The report's line, tab-separated: <c>E: n	tL: …	tA: …	vL: …	vA: …	s: …</c>; with a test set,
    /// <c>	TL: …	TA: …</c> follow.
    /// </summary>
    public string ToReportLine() => string.Create(CultureInfo.InvariantCulture,
        $"E: {Epoch}\ttL: {TrainLoss:R}\ttA: {TrainAccuracy:R}\tvL: {ValidationLoss:R}\tvA: {ValidationAccuracy:R}\ts: {Seconds:F3}")
        + (double.IsNaN(TestLoss) && double.IsNaN(TestAccuracy) ? "" : string.Create(CultureInfo.InvariantCulture, $"\tTL: {TestLoss:R}\tTA: {TestAccuracy:R}"));
}

/// <summary>Why <see cref="Trainer{T}.Train(TrainOptions, CancellationToken)"/> returned.</summary>
public enum StopReason
{
    /// <summary>Every requested epoch ran.</summary>
    Completed,

    /// <summary>The cancellation token fired; training stopped after the batch that was running.</summary>
    Cancelled,

    /// <summary>Early stopping: the monitored metric stopped improving for the patience.</summary>
    EarlyStopped,
}

/// <summary>The epochs of a training run, in order, starting with epoch −1 (before training).</summary>
/// <param name="epochs">The rows.</param>
/// <param name="hasTestSet">Whether the rows carry test-set loss and accuracy: <see cref="ToCsv"/> then appends <c>test_loss,test_acc</c>.</param>
/// <param name="stopReason">Why training ended.</param>
/// <param name="bestEpoch">With early stopping, the epoch whose monitored value was best (whose weights were restored when asked); else null.</param>
public sealed class History(IEnumerable<EpochStats> epochs, bool hasTestSet = false, StopReason stopReason = StopReason.Completed, int? bestEpoch = null)
    : IReadOnlyList<EpochStats>
{
    private readonly List<EpochStats> _epochs = [.. epochs];

    /// <summary>The CSV header, the contract for <c>history.csv</c>.</summary>
    public const string CsvHeader = "epoch,train_loss,train_acc,val_loss,val_acc,seconds";

    /// <summary>The columns <see cref="ToCsv"/> appends to <see cref="CsvHeader"/> when there is a test set.</summary>
    public const string CsvTestColumns = "test_loss,test_acc";

    /// <inheritdoc/>
    public EpochStats this[int index] => _epochs[index];

    /// <inheritdoc/>
    public int Count => _epochs.Count;

    /// <summary>Whether the rows carry test-set statistics.</summary>
    public bool HasTestSet { get; } = hasTestSet;

    /// <summary>Why training ended.</summary>
    public StopReason StopReason { get; } = stopReason;

    /// <summary>With early stopping, the epoch whose monitored value was best; else null.</summary>
    public int? BestEpoch { get; } = bestEpoch;

    /// <summary>The last epoch's statistics.</summary>
    public EpochStats Final => _epochs.Count > 0 ? _epochs[^1] : throw new InvalidOperationException("The history is empty.");

    /// <summary>
    /// The history as CSV: <see cref="CsvHeader"/> (then <c>,</c><see cref="CsvTestColumns"/> when
    /// <see cref="HasTestSet"/>), then one row per epoch, round-trip precision.
    /// </summary>
    public string ToCsv()
    {
        var csv = new StringBuilder(CsvHeader);
        if (HasTestSet) csv.Append(',').Append(CsvTestColumns);
        csv.Append('\n');
        foreach (var e in _epochs)
        {
            csv.Append(CultureInfo.InvariantCulture,
                $"{e.Epoch},{e.TrainLoss:R},{e.TrainAccuracy:R},{e.ValidationLoss:R},{e.ValidationAccuracy:R},{e.Seconds:F3}");
            if (HasTestSet) csv.Append(CultureInfo.InvariantCulture, $",{e.TestLoss:R},{e.TestAccuracy:R}");
            csv.Append('\n');
        }
        return csv.ToString();
    }

    /// <summary>Writes <see cref="ToCsv"/> to <paramref name="path"/> atomically (a temporary file renamed over it).</summary>
    public void WriteCsv(string path) => AtomicFile.WriteAllText(path, ToCsv());

    /// <summary>The epochs as a text table (see <see cref="HistoryText.Table"/>).</summary>
    public override string ToString() => HistoryText.Table(this);

    /// <inheritdoc/>
    public IEnumerator<EpochStats> GetEnumerator() => _epochs.GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
