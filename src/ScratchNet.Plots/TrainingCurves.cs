using ScottPlot;
using ScratchNet.Training;

namespace ScratchNet.Plots;

/// <summary>
/// The report's figure of a training run: train and validation loss on the left axis, train and
/// validation accuracy on the right axis, epochs on x (starting at −1, the state before training, as
/// the history does), a legend and a title.
/// </summary>
public static class TrainingCurves
{
    /// <summary>Width of the saved images, pixels.</summary>
    public const int Width = 900;

    /// <summary>Height of the saved images, pixels.</summary>
    public const int Height = 550;

    /// <summary>The shipped font's name as registered with ScottPlot.</summary>
    public const string FontName = PlotFont.Name;

    /// <summary>The legend entries, in order; also the strings the SVG carries as text.</summary>
    public static readonly IReadOnlyList<string> LegendLabels = ["train loss", "validation loss", "train accuracy", "validation accuracy"];

    /// <summary>Writes the figure as a <see cref="Width"/>×<see cref="Height"/> PNG to <paramref name="pngPath"/> and as SVG to
    /// <paramref name="svgPath"/>, each atomically (a temporary file renamed over it).</summary>
    /// <exception cref="ArgumentException">The history is empty.</exception>
    public static void Save(History history, string title, string pngPath, string svgPath)
    {
        var plot = Create(history, title);
        PlotFont.SavePng(plot, pngPath, Width, Height);
        AtomicFile.WriteAllText(svgPath, plot.GetSvgXml(Width, Height));
    }

    /// <summary>Builds the figure (for callers that want to change or render it themselves).</summary>
    /// <exception cref="ArgumentException">The history is empty.</exception>
    public static Plot Create(History history, string title)
    {
        ArgumentNullException.ThrowIfNull(history);
        if (history.Count == 0) throw new ArgumentException("The history is empty: there is nothing to plot.", nameof(history));

        double[] epochs = [.. history.Select(e => (double)e.Epoch)];
        var plot = EpochAxes.NewPlot();
        var loss = plot.Axes.Left;
        var accuracy = plot.Axes.Right;
        // Four colours and two marker shapes, solid lines: Skia's SVG writer cannot express dash
        // patterns and prints a warning to standard output for each one.
        EpochAxes.AddSeries(plot, epochs, [.. history.Select(e => e.TrainLoss)], LegendLabels[0], Colors.C0, MarkerShape.FilledCircle, 2, 5, loss);
        EpochAxes.AddSeries(plot, epochs, [.. history.Select(e => e.ValidationLoss)], LegendLabels[1], Colors.C1, MarkerShape.FilledSquare, 2, 5, loss);
        EpochAxes.AddSeries(plot, epochs, [.. history.Select(e => e.TrainAccuracy)], LegendLabels[2], Colors.C2, MarkerShape.FilledCircle, 2, 5, accuracy);
        EpochAxes.AddSeries(plot, epochs, [.. history.Select(e => e.ValidationAccuracy)], LegendLabels[3], Colors.C3, MarkerShape.FilledSquare, 2, 5, accuracy);

        EpochAxes.Finish(plot, title, "loss", "accuracy");
        plot.ShowLegend(Alignment.MiddleRight);
        return plot;
    }
}
