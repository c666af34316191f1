using System.Globalization;
using System.Numerics;
using System.Text;

namespace ScratchNet.Interactive;

/// <summary>One row of <see cref="NetworkSummary"/>: a layer's index, kind, output shape per batch and parameter count.</summary>
/// <param name="Index">The layer's position (its state-dict index).</param>
/// <param name="Kind">The layer's kind, e.g. <c>linear</c>, <c>relu</c>.</param>
/// <param name="OutputShape">The shape it outputs, e.g. <c>(batch, 128)</c>.</param>
/// <param name="Parameters">Trainable values it holds.</param>
public readonly record struct LayerSummary(int Index, string Kind, string OutputShape, long Parameters);

/// <summary>A network's layers as a table (layer, output shape, parameters), read from its public API alone.</summary>
public static class NetworkSummary
{
    /// <summary>The input row first (index −1, kind <c>input</c>), then one row per layer.</summary>
    public static IReadOnlyList<LayerSummary> Rows<T>(Network<T> network) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        var rows = new List<LayerSummary> { new(-1, "input", Shape(network.Inputs), 0) };
        for (int i = 0; i < network.Layers.Count; i++)
        {
            var layer = network.Layers[i];
            rows.Add(new LayerSummary(i, layer.Kind, Shape(layer.OutputSize), layer.Parameters.Sum(p => (long)p.Value.Length)));
        }
        return rows;
    }

    /// <summary>The table as fixed-width text, then the total parameter count and the loss.</summary>
    public static string Text<T>(Network<T> network) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rows = Rows(network);
        string[][] cells = [["layer", "output shape", "parameters"], .. rows.Select(r => new[] { r.Index < 0 ? r.Kind : $"{r.Index} {r.Kind}", r.OutputShape, Count(r.Parameters) })];
        int[] widths = [.. Enumerable.Range(0, 3).Select(c => cells.Max(row => row[c].Length))];
        var text = new StringBuilder();
        foreach (var row in cells) text.AppendLine($"{row[0].PadRight(widths[0])}  {row[1].PadRight(widths[1])}  {row[2].PadLeft(widths[2])}");
        return text.Append(CultureInfo.InvariantCulture, $"total parameters: {Count(rows.Sum(r => r.Parameters))}; loss: {network.Loss}").ToString();
    }

    internal static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static string Shape(int width) => $"(batch, {width})";
}
