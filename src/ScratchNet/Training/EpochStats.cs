using System.Globalization;
using System.Text;

namespace ScratchNet.Training;

/// <summary>
/// One line of a training history: the epoch (−1 for the state before training), loss and accuracy
/// on the training and validation sets after it, and the epoch's wall-clock seconds.
/// </summary>
public readonly record struct EpochStats(int Epoch, double TrainLoss, double TrainAccuracy, double ValidationLoss, double ValidationAccuracy, double Seconds)
{
    /// <summary>The report's line, tab-separated: <c>E: n	tL: …	tA: …	vL: …	vA: …	s: …</c>.</summary>
    public string ToReportLine() => string.Create(CultureInfo.InvariantCulture,
        $"E: {Epoch}\ttL: {TrainLoss:R}\ttA: {TrainAccuracy:R}\tvL: {ValidationLoss:R}\tvA: {ValidationAccuracy:R}\ts: {Seconds:F3}");
}

/// <summary>The epochs of a training run, in order, starting with epoch −1 (before training).</summary>
public sealed class History(IEnumerable<EpochStats> epochs) : IReadOnlyList<EpochStats>
{
    private readonly List<EpochStats> _epochs = [.. epochs];

    /// <summary>The CSV header, the contract for <c>history.csv</c>.</summary>
    public const string CsvHeader = "epoch,train_loss,train_acc,val_loss,val_acc,seconds";

    /// <inheritdoc/>
    public EpochStats this[int index] => _epochs[index];

    /// <inheritdoc/>
    public int Count => _epochs.Count;

    /// <summary>The last epoch's statistics.</summary>
    public EpochStats Final => _epochs.Count > 0 ? _epochs[^1] : throw new InvalidOperationException("The history is empty.");

    /// <summary>The history as CSV: <see cref="CsvHeader"/>, then one row per epoch, round-trip precision.</summary>
    public string ToCsv()
    {
        var csv = new StringBuilder(CsvHeader).Append('\n');
        foreach (var e in _epochs)
            csv.Append(CultureInfo.InvariantCulture,
                $"{e.Epoch},{e.TrainLoss:R},{e.TrainAccuracy:R},{e.ValidationLoss:R},{e.ValidationAccuracy:R},{e.Seconds:F3}\n");
        return csv.ToString();
    }

    /// <summary>Writes <see cref="ToCsv"/> to <paramref name="path"/> atomically (a temporary file renamed over it).</summary>
    public void WriteCsv(string path) => AtomicFile.WriteAllText(path, ToCsv());

    /// <inheritdoc/>
    public IEnumerator<EpochStats> GetEnumerator() => _epochs.GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
