using System.Globalization;
using ScratchNet.Data.Catalog;

namespace ScratchNet.Cli.Commands;

/// <summary>
/// Renders download progress as plain lines, one per tenth of a file (or per 10 MB when the size is
/// unknown), so that a log stays readable. Reports arrive on the downloading thread, in order.
/// </summary>
internal sealed class ProgressLines(TextWriter writer) : IProgress<DownloadProgress>
{
    private const long UnknownSizeStep = 10_000_000;
    private string? _file;
    private long _nextStep;

    public void Report(DownloadProgress value)
    {
        if (value.File != _file)
        {
            _file = value.File;
            _nextStep = 0;
        }
        long step = value.TotalBytes is { } total && total >= 10 ? total / 10 : UnknownSizeStep;
        bool finished = value.TotalBytes is { } size && value.BytesReceived == size;
        if (value.BytesReceived < _nextStep && !finished) return;
        _nextStep = (value.BytesReceived / step + 1) * step;
        string amount = value.TotalBytes is { } all
            ? string.Create(CultureInfo.InvariantCulture, $"{100.0 * value.BytesReceived / Math.Max(all, 1):F0}% ({value.BytesReceived / 1e6:F1} of {all / 1e6:F1} MB)")
            : string.Create(CultureInfo.InvariantCulture, $"{value.BytesReceived / 1e6:F1} MB");
        writer.WriteLine($"download {value.File}: {amount}");
        writer.Flush();
    }
}
