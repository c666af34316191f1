using ScottPlot;
using ScratchNet.Training;

namespace ScratchNet.Plots;

/// <summary>
/// Several runs' curves in one figure, for comparison: loss on the left axis, accuracy on the right,
/// epochs on x. Each run has one colour; the series of a run differ by marker and line width
/// (validation: squares, thicker), and the legend names run and series.
/// </summary>
public static class RunComparison
{
    /// <summary>Width of the saved image, pixels.</summary>
    public const int Width = 1000;

    /// <summary>Height of the saved image, pixels.</summary>
    public const int Height = 600;

    /// <summary>Writes the figure to <paramref name="path"/>, atomically: SVG when the name ends in <c>.svg</c>, else PNG.</summary>
    /// <exception cref="ArgumentException">No runs, or a run with an empty history.</exception>
    public static void Save(IReadOnlyList<(string Name, History History)> runs, string title, string path)
    {
        var plot = Create(runs, title);
        if (path.EndsWith(".svg", StringComparison.OrdinalIgnoreCase)) AtomicFile.WriteAllText(path, plot.GetSvgXml(Width, Height));
        else PlotFont.SavePng(plot, path, Width, Height);
    }

    /// <summary>Builds the figure.</summary>
    /// <exception cref="ArgumentException">No runs, or a run with an empty history.</exception>
    public static Plot Create(IReadOnlyList<(string Name, History History)> runs, string title)
    {
        ArgumentNullException.ThrowIfNull(runs);
        if (runs.Count == 0) throw new ArgumentException("There are no runs to plot.", nameof(runs));
        var plot = EpochAxes.NewPlot();
        var palette = new ScottPlot.Palettes.Category10();
        var loss = plot.Axes.Left;
        var accuracy = plot.Axes.Right;
        for (int r = 0; r < runs.Count; r++)
        {
            var (name, history) = runs[r];
            if (history.Count == 0) throw new ArgumentException($"The run '{name}' has an empty history.", nameof(runs));
            var color = palette.GetColor(r);
            double[] epochs = [.. history.Select(e => (double)e.Epoch)];
            EpochAxes.AddSeries(plot, epochs, [.. history.Select(e => e.TrainLoss)], $"{name}: train loss", color, MarkerShape.FilledCircle, 1.5f, 6, loss);
            EpochAxes.AddSeries(plot, epochs, [.. history.Select(e => e.ValidationLoss)], $"{name}: validation loss", color, MarkerShape.FilledSquare, 3, 6, loss);
            EpochAxes.AddSeries(plot, epochs, [.. history.Select(e => e.TrainAccuracy)], $"{name}: train accuracy", color, MarkerShape.OpenCircle, 1.5f, 6, accuracy);
            EpochAxes.AddSeries(plot, epochs, [.. history.Select(e => e.ValidationAccuracy)], $"{name}: validation accuracy", color, MarkerShape.OpenSquare, 3, 6, accuracy);
        }
        EpochAxes.Finish(plot, title, "loss (filled markers)", "accuracy (open markers)");
        plot.ShowLegend(Edge.Right);
        return plot;
    }
}
