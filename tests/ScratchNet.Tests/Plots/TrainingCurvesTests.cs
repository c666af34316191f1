using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using ScratchNet.Cli;
using ScratchNet.Plots;
using ScratchNet.Training;
using SkiaSharp;

namespace ScratchNet.Tests.Plots;

public class TrainingCurvesTests
{
    private static readonly History Sample = new(
        Enumerable.Range(-1, 11).Select(e => new EpochStats(e, 2.0 / (e + 2), 1 - 0.5 / (e + 2), 2.2 / (e + 2), 1 - 0.6 / (e + 2), 0.1)));

    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    private static string TempDir() => Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), $"scratchnet-plots-{Guid.NewGuid():N}")).FullName;

    /// <summary>Checks the PNG signature and returns the IHDR chunk's width and height.</summary>
    private static (int Width, int Height) PngSize(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 1000, $"{path} is only {bytes.Length} bytes");
        Assert.Equal(PngSignature, bytes[..8]);
        Assert.Equal("IHDR"u8.ToArray(), bytes[12..16]);
        return (BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
    }

    /// <summary>The trimmed contents of the SVG's text elements.</summary>
    internal static string[] SvgTexts(string xml) =>
        [.. Regex.Matches(xml, "<text[^>]*>(.*?)</text>", RegexOptions.Singleline).Select(m => WebUtility.HtmlDecode(m.Groups[1].Value.Trim()))];

    [Fact]
    public void SaveWritesAPngOfTheExpectedSize()
    {
        string dir = TempDir();
        try
        {
            string png = Path.Combine(dir, "c.png"), svg = Path.Combine(dir, "c.svg");
            TrainingCurves.Save(Sample, "sample run", png, svg);

            Assert.Equal((TrainingCurves.Width, TrainingCurves.Height), PngSize(png));
            Assert.Equal(["c.png", "c.svg"], Directory.GetFiles(dir).Select(Path.GetFileName).Order()); // no temporary files left
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void SvgCarriesTitleAxisLabelsAndLegendAsTextInTheShippedFont()
    {
        string dir = TempDir();
        try
        {
            string png = Path.Combine(dir, "c.png"), svg = Path.Combine(dir, "c.svg");
            TrainingCurves.Save(Sample, "sample run 2-10-2", png, svg);

            var texts = SvgTexts(File.ReadAllText(svg));
            foreach (string text in (string[])[.. TrainingCurves.LegendLabels, "sample run 2-10-2", "loss", "accuracy", "epoch (−1: before training)", "-1", "9"])
                Assert.Contains(text, texts);
            Assert.Contains("font-family=\"DejaVu Sans\"", File.ReadAllText(svg));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void EmptyHistoryIsRejected() =>
        Assert.Throws<ArgumentException>(() => TrainingCurves.Save(new History([]), "t", "unused.png", "unused.svg"));
}

// The CLI sets the global kernel thread count for the length of a run.
[Collection(GlobalStateCollection.Name)]
public class TrainCurvesCliTests
{
    [Fact]
    public void TrainOutWritesCurvesPngAndSvg()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"scratchnet-cli-{Guid.NewGuid():N}");
        try
        {
            var output = new StringWriter();
            var error = new StringWriter();
            int exitCode = CliApp.Run(["train", "--dataset", "patterns", "--epochs", "2", "--out", dir, "--threads", "1"], output, error);

            Assert.True(exitCode == 0, error.ToString());
            string png = Path.Combine(dir, "curves.png"), svg = Path.Combine(dir, "curves.svg");
            Assert.True(File.Exists(png) && File.Exists(svg), output.ToString());
            byte[] bytes = File.ReadAllBytes(png);
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], bytes[..4]);
            var texts = TrainingCurvesTests.SvgTexts(File.ReadAllText(svg));
            Assert.Contains(texts, t => t.StartsWith("patterns: network ", StringComparison.Ordinal));
            Assert.Contains("validation accuracy", texts);
            Assert.DoesNotContain("Unsupported", output.ToString());
            Assert.Contains($"# wrote {png}", output.ToString());
            Assert.Contains($"# wrote {svg}", output.ToString());
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task TitleTextIsDrawnWhenTheMachineHasNoFonts()
    {
        // SkiaSharp's bundled libSkiaSharp finds system fonts only under /usr/share/fonts (no
        // fontconfig). A child process in its own user and mount namespace sees an empty tmpfs there,
        // so only the shipped DejaVu Sans can draw the title. The band above the plot holds nothing but
        // the title, so dark pixels there are text. Without user namespaces (unshare fails) the test
        // has nothing to check and returns.
        if (!CanHideFonts()) return;
        string dir = Path.Combine(Path.GetTempPath(), $"scratchnet-nofonts-{Guid.NewGuid():N}");
        try
        {
            await RunCliWithoutFonts("train", "--dataset", "patterns", "--epochs", "1", "--threads", "1", "--out", dir);

            using var bitmap = SKBitmap.Decode(Path.Combine(dir, "curves.png"));
            Assert.Equal((TrainingCurves.Width, TrainingCurves.Height), (bitmap.Width, bitmap.Height));
            int dark = DarkPixelsInTitleBand(bitmap);
            Assert.True(dark > 100, $"only {dark} dark pixels in the title band");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task PlotOfSeveralRunsDrawsItsTitleWhenTheMachineHasNoFonts()
    {
        // As above, for `scratchnet plot` (RunComparison): histories written by hand, no training needed.
        if (!CanHideFonts()) return;
        string dir = Path.Combine(Path.GetTempPath(), $"scratchnet-nofonts-{Guid.NewGuid():N}");
        try
        {
            foreach (string run in (string[])["a", "b"])
            {
                Directory.CreateDirectory(Path.Combine(dir, run));
                File.WriteAllText(Path.Combine(dir, run, "history.csv"), $"{History.CsvHeader}\n-1,2.3,0.1,2.3,0.1,0.5\n0,0.6,0.8,0.7,0.75,1\n1,0.4,0.86,0.5,0.83,1\n");
            }
            string png = Path.Combine(dir, "both.png");
            await RunCliWithoutFonts("plot", Path.Combine(dir, "a"), Path.Combine(dir, "b"), "--out", png, "--title", "two runs without system fonts");

            using var bitmap = SKBitmap.Decode(png);
            Assert.Equal((RunComparison.Width, RunComparison.Height), (bitmap.Width, bitmap.Height));
            int dark = DarkPixelsInTitleBand(bitmap);
            Assert.True(dark > 100, $"only {dark} dark pixels in the title band");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    // Runs the CLI in a child process whose /usr/share/fonts is an empty tmpfs; fails the test unless it exits 0.
    private static async Task RunCliWithoutFonts(params string[] args)
    {
        string cli = Path.Combine(AppContext.BaseDirectory, "ScratchNet.Cli.dll");
        string dotnet = BuildOutputs.Dotnet;
        var start = new ProcessStartInfo("unshare", ["-rm", "sh", "-c", HideFontsThenRun, dotnet, cli, .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, await stderr + await stdout);
    }

    // Dark pixels in rows 0–19: above the plot frame, which starts near row 25 when no title is drawn.
    private static int DarkPixelsInTitleBand(SKBitmap bitmap)
    {
        int dark = 0;
        for (int y = 0; y < 20; y++)
            for (int x = 0; x < bitmap.Width; x++)
                if (bitmap.GetPixel(x, y) is var c && c.Red < 128 && c.Green < 128 && c.Blue < 128) dark++;
        return dark;
    }

    private const string HideFontsThenRun = "mount -t tmpfs none /usr/share/fonts && exec \"$0\" \"$@\"";

    private static bool CanHideFonts()
    {
        try
        {
            using var probe = Process.Start(new ProcessStartInfo("unshare", ["-rm", "sh", "-c", HideFontsThenRun + " && test -z \"$(ls -A /usr/share/fonts)\"", "true"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            probe.WaitForExit();
            return probe.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception) { return false; } // no unshare on this machine
    }
}
