using System.Globalization;
using ScottPlot;

namespace ScratchNet.Plots;

/// <summary>
/// A confusion matrix as a heatmap: true class down the rows, predicted class across the columns, each
/// cell shaded by its share of the true class's samples and labelled with its count.
/// </summary>
public static class ConfusionMatrixPlot
{
    /// <summary>Writes the heatmap as a PNG to <paramref name="path"/>, atomically.</summary>
    /// <param name="counts">(classes, classes): counts[true, predicted].</param>
    /// <param name="classNames">One name per class, for the axes.</param>
    /// <param name="title">The figure's title.</param>
    /// <param name="path">The PNG to write.</param>
    /// <exception cref="ArgumentException">The matrix is not square, or the names do not match it.</exception>
    public static void Save(long[,] counts, IReadOnlyList<string> classNames, string title, string path)
    {
        int n = counts.GetLength(0);
        // Cells of about 50 pixels, within 500..1200 pixels, plus room for the labels and colour bar.
        int side = Math.Clamp(50 * n, 500, 1200);
        PlotFont.SavePng(Create(counts, classNames, title), path, side + 260, side + 160);
    }

    /// <summary>Builds the figure (see <see cref="Save"/>).</summary>
    public static Plot Create(long[,] counts, IReadOnlyList<string> classNames, string title)
    {
        int n = counts.GetLength(0);
        if (n == 0 || counts.GetLength(1) != n) throw new ArgumentException($"A confusion matrix is square and not empty; got {n}×{counts.GetLength(1)}.", nameof(counts));
        if (classNames.Count != n) throw new ArgumentException($"{classNames.Count} class names for {n} classes.", nameof(classNames));

        // Shade by the row's share (recall per cell), so that classes of different sizes read alike.
        var share = new double[n, n];
        for (int t = 0; t < n; t++)
        {
            long total = 0;
            for (int p = 0; p < n; p++) total += counts[t, p];
            for (int p = 0; p < n; p++) share[t, p] = total == 0 ? 0 : (double)counts[t, p] / total;
        }

        var plot = new Plot();
        plot.Font.Set(PlotFont.Registered);
        var heatmap = plot.Add.Heatmap(share);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        heatmap.ManualRange = new ScottPlot.Range(0, 1);
        // Row 0 at the top; cell (t, p) centred on x = p, y = n − 1 − t.
        heatmap.Rectangle = new CoordinateRect(-0.5, n - 0.5, -0.5, n - 0.5);
        var bar = plot.Add.ColorBar(heatmap);
        bar.Axis.Label.Text = "";

        if (n <= 30)
        {
            float size = n <= 12 ? 14 : 9;
            for (int t = 0; t < n; t++)
                for (int p = 0; p < n; p++)
                {
                    var text = plot.Add.Text(counts[t, p].ToString(CultureInfo.InvariantCulture), p, n - 1 - t);
                    text.Alignment = Alignment.MiddleCenter;
                    text.LabelFontSize = size;
                    text.LabelFontName = PlotFont.Registered;
                    // Light text on the dark end of viridis, dark text on the light end.
                    text.LabelFontColor = share[t, p] < 0.6 ? Colors.White : Colors.Black;
                }
        }

        double[] positions = [.. Enumerable.Range(0, n).Select(i => (double)i)];
        plot.Axes.Bottom.SetTicks(positions, [.. classNames]);
        plot.Axes.Left.SetTicks([.. positions.Select(y => n - 1 - y)], [.. classNames]);
        int longest = classNames.Max(name => name.Length);
        if (longest > 3)
        {
            // Long names slant; the axis is sized for them (ScottPlot does not measure rotated labels).
            plot.Axes.Bottom.TickLabelStyle.Rotation = -45;
            plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleRight;
            plot.Axes.Bottom.MinimumSize = 30 + 6 * longest;
        }
        plot.Axes.SetLimits(-0.5, n - 0.5, -0.5, n - 0.5);
        plot.Title(title);
        plot.XLabel("predicted class (shade: share of the true class)");
        plot.YLabel("true class");
        return plot;
    }
}
