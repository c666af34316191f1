using ScottPlot;

namespace ScratchNet.Plots;

/// <summary>What the per-epoch figures share: loss on the left axis, accuracy on the right, epochs from −1 on x.</summary>
internal static class EpochAxes
{
    /// <summary>A plot in the shipped font.</summary>
    public static Plot NewPlot()
    {
        var plot = new Plot();
        plot.Font.Set(PlotFont.Registered);
        return plot;
    }

    /// <summary>Adds one series: a line with markers (none past 60 points), on <paramref name="axis"/>.</summary>
    public static void AddSeries(Plot plot, double[] epochs, double[] values, string label, Color color, MarkerShape marker,
                                 float lineWidth, float markerSize, IYAxis axis)
    {
        var scatter = plot.Add.Scatter(epochs, values, color);
        scatter.LegendText = label;
        scatter.MarkerShape = marker;
        scatter.LineWidth = lineWidth;
        scatter.MarkerSize = epochs.Length <= 60 ? markerSize : 0;
        scatter.Axes.YAxis = axis;
    }

    /// <summary>Title, axis labels, whole-epoch ticks, and accuracy from 0 to just above 1.</summary>
    public static void Finish(Plot plot, string title, string lossLabel, string accuracyLabel)
    {
        plot.Title(title);
        plot.XLabel("epoch (−1: before training)");
        plot.Axes.Left.Label.Text = lossLabel;
        plot.Axes.Right.Label.Text = accuracyLabel;
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.Axes.AutoScale();
        plot.Axes.SetLimitsY(0, 1.02, plot.Axes.Right);
    }
}
