using System.Globalization;
using System.Text;

namespace ScratchNet.Training;

/// <summary>A training history as a fixed-width text table, one row per epoch (what <see cref="History.ToString"/> prints).</summary>
public static class HistoryText
{
    /// <summary>
    /// A header (<c>epoch  train_loss  train_acc  val_loss  val_acc  seconds</c>, then <c>test_loss  test_acc</c> with a test
    /// set) and one row per epoch, losses to 5 significant digits, accuracies to 4 decimals; then why training stopped when
    /// it was not <see cref="StopReason.Completed"/>, and the best epoch with early stopping.
    /// </summary>
    public static string Table(History history)
    {
        ArgumentNullException.ThrowIfNull(history);
        var header = new List<string> { "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds" };
        if (history.HasTestSet) header.AddRange(["test_loss", "test_acc"]);
        var rows = history.Select(e =>
        {
            var row = new List<string> { e.Epoch.ToString(CultureInfo.InvariantCulture), Loss(e.TrainLoss), Accuracy(e.TrainAccuracy),
                                         Loss(e.ValidationLoss), Accuracy(e.ValidationAccuracy), e.Seconds.ToString("F2", CultureInfo.InvariantCulture) };
            if (history.HasTestSet) row.AddRange([Loss(e.TestLoss), Accuracy(e.TestAccuracy)]);
            return row;
        }).ToList();
        int[] widths = [.. header.Select((h, c) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[c].Length)))];
        var text = new StringBuilder();
        text.Append(string.Join("  ", header.Select((h, c) => h.PadLeft(widths[c]))).TrimEnd());
        foreach (var row in rows) text.Append('\n').Append(string.Join("  ", row.Select((v, c) => v.PadLeft(widths[c]))));
        if (history.StopReason != StopReason.Completed) text.Append('\n').Append(CultureInfo.InvariantCulture, $"stopped: {history.StopReason}");
        if (history.BestEpoch is { } best) text.Append('\n').Append(CultureInfo.InvariantCulture, $"best epoch: {best}");
        return text.ToString();
    }

    private static string Loss(double value) => value.ToString("G5", CultureInfo.InvariantCulture);

    private static string Accuracy(double value) => value.ToString("F4", CultureInfo.InvariantCulture);
}
