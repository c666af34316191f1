using System.Reflection;
using ScottPlot;

namespace ScratchNet.Plots;

/// <summary>
/// The font every figure uses: DejaVu Sans, embedded in this assembly. ScottPlot draws no text (and
/// raises no error) on a machine without fonts, so the figures never rely on system fonts.
/// </summary>
internal static class PlotFont
{
    /// <summary>The shipped font's name as registered with ScottPlot.</summary>
    public const string Name = "ScratchNet DejaVu Sans";

    /// <summary>Registers the font (once) and returns its name, for <c>plot.Font.Set</c>.</summary>
    public static string Registered => Font.Value;

    // Written to a temporary file (ScottPlot registers fonts by path) unless an identical one is already there.
    private static readonly Lazy<string> Font = new(() =>
    {
        using var resource = Assembly.GetExecutingAssembly().GetManifestResourceStream("ScratchNet.Plots.DejaVuSans.ttf")
            ?? throw new InvalidOperationException("The embedded font ScratchNet.Plots.DejaVuSans.ttf is missing from the assembly.");
        string path = Path.Combine(Path.GetTempPath(), $"scratchnet-DejaVuSans-{resource.Length}.ttf");
        if (!File.Exists(path) || new FileInfo(path).Length != resource.Length)
            AtomicFile.Write(path, resource.CopyTo);
        Fonts.AddFontFile(Name, path);
        return Name;
    });

    /// <summary>Writes <paramref name="plot"/> as PNG to <paramref name="path"/>, atomically.</summary>
    public static void SavePng(Plot plot, string path, int width, int height)
    {
        byte[] png = plot.GetImage(width, height).GetImageBytes(ImageFormat.Png);
        AtomicFile.Write(path, stream => stream.Write(png));
    }
}
