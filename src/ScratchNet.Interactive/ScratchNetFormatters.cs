using System.Globalization;
using System.Net;
using System.Numerics;
using System.Text;
using Microsoft.DotNet.Interactive.Formatting;
using ScottPlot;
using ScratchNet.Plots;
using ScratchNet.Training;

namespace ScratchNet.Interactive;

/// <summary>
/// The HTML a notebook shows for ScratchNet's types, and their registration with .NET Interactive's
/// <see cref="Formatter"/> (done by <see cref="ScratchNetKernelExtension"/> when a notebook references the package).
/// Figures are embedded as PNG data URIs, so a saved notebook keeps them.
/// </summary>
public static class ScratchNetFormatters
{
    /// <summary>Width of the embedded figures, pixels.</summary>
    public const int FigureWidth = 720;

    /// <summary>Height of the embedded training-curves figure, pixels.</summary>
    public const int FigureHeight = 440;

    /// <summary>Registers the <c>text/html</c> formatters for <see cref="History"/>, <see cref="Network{T}"/>, <see cref="Matrix{T}"/> (float and double) and <see cref="ConfusionMatrix"/>.</summary>
    public static void Register()
    {
        Formatter.Register<History>(h => HistoryHtml(h), HtmlFormatter.MimeType);
        Formatter.Register<Network<float>>(NetworkHtml, HtmlFormatter.MimeType);
        Formatter.Register<Network<double>>(NetworkHtml, HtmlFormatter.MimeType);
        Formatter.Register<Matrix<float>>(m => MatrixHtml(m), HtmlFormatter.MimeType);
        Formatter.Register<Matrix<double>>(m => MatrixHtml(m), HtmlFormatter.MimeType);
        Formatter.Register<ConfusionMatrix>(c => ConfusionHtml(c), HtmlFormatter.MimeType);
    }

    /// <summary>The training curves (loss and accuracy per epoch) as an embedded PNG, then the history as a table.</summary>
    /// <exception cref="ArgumentException">The history is empty.</exception>
    public static string HistoryHtml(History history, string title = "training")
    {
        ArgumentNullException.ThrowIfNull(history);
        var plot = TrainingCurves.Create(history, title);
        var html = new StringBuilder(Image(plot, FigureWidth, FigureHeight, "training curves"));
        var header = new List<string> { "epoch", "train loss", "train acc", "val loss", "val acc", "seconds" };
        if (history.HasTestSet) header.AddRange(["test loss", "test acc"]);
        var rows = history.Select(e =>
        {
            var row = new List<string> { Int(e.Epoch), G(e.TrainLoss), F(e.TrainAccuracy), G(e.ValidationLoss), F(e.ValidationAccuracy), e.Seconds.ToString("F2", CultureInfo.InvariantCulture) };
            if (history.HasTestSet) row.AddRange([G(e.TestLoss), F(e.TestAccuracy)]);
            return (IReadOnlyList<string>)row;
        });
        html.Append(Table(header, rows));
        if (history.StopReason != StopReason.Completed) html.Append(CultureInfo.InvariantCulture, $"<p>stopped: {history.StopReason}{(history.BestEpoch is { } b ? $", best epoch {b}" : "")}</p>");
        return html.ToString();
    }

    /// <summary>The network's summary table: layer, output shape, parameters, and the totals.</summary>
    public static string NetworkHtml<T>(Network<T> network) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rows = NetworkSummary.Rows(network);
        return $"<p><code>{Escape(network.ToString())}</code></p>"
            + Table(["layer", "output shape", "parameters"],
                    rows.Select(r => (IReadOnlyList<string>)[r.Index < 0 ? r.Kind : $"{r.Index} {r.Kind}", r.OutputShape, NetworkSummary.Count(r.Parameters)]))
            + $"<p>total parameters: {NetworkSummary.Count(rows.Sum(r => r.Parameters))}; loss: {network.Loss}</p>";
    }

    /// <summary>The shape, then a preview of the corner rows and columns (as <see cref="MatrixText.Preview{T}"/>).</summary>
    public static string MatrixHtml<T>(Matrix<T> matrix) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(matrix);
        return $"<pre>{Escape(MatrixText.Preview(matrix, maxRows: 10, maxCols: 10))}</pre>";
    }

    /// <summary>The confusion matrix's heatmap as an embedded PNG, then its accuracy.</summary>
    public static string ConfusionHtml(ConfusionMatrix confusion, string title = "confusion matrix")
    {
        ArgumentNullException.ThrowIfNull(confusion);
        var plot = ConfusionMatrixPlot.Create(confusion.Counts, confusion.ClassNames, title);
        return Image(plot, 640, 560, title)
            + string.Create(CultureInfo.InvariantCulture, $"<p>accuracy: {confusion.Accuracy:F4} ({confusion.Total} samples)</p>");
    }

    private static string Image(Plot plot, int width, int height, string alt)
    {
        using var image = plot.GetImage(width, height);
        return $"<img alt=\"{Escape(alt)}\" src=\"data:image/png;base64,{Convert.ToBase64String(image.GetImageBytes(ImageFormat.Png))}\" />";
    }

    private static string Table(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        var html = new StringBuilder("<table><thead><tr>");
        foreach (string h in header) html.Append("<th>").Append(Escape(h)).Append("</th>");
        html.Append("</tr></thead><tbody>");
        foreach (var row in rows)
        {
            html.Append("<tr>");
            foreach (string cell in row) html.Append("<td>").Append(Escape(cell)).Append("</td>");
            html.Append("</tr>");
        }
        return html.Append("</tbody></table>").ToString();
    }

    private static string Escape(string text) => WebUtility.HtmlEncode(text);

    private static string Int(int n) => n.ToString(CultureInfo.InvariantCulture);

    private static string G(double x) => x.ToString("G5", CultureInfo.InvariantCulture);

    private static string F(double x) => x.ToString("F4", CultureInfo.InvariantCulture);
}
