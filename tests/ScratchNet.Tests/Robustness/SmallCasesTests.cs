using System.Diagnostics;
using System.Text;
using ScratchNet.Cli.Commands;
using ScratchNet.Data.Formats;
using ScratchNet.Tests.Cli;
using ScratchNet.Tests.DataFormats;

namespace ScratchNet.Tests.Robustness;

/// <summary>Issue 16, cases 9, 12 and 13: number parsing, evaluate beside a folder that takes no figure, out of memory, and the smaller items.</summary>
public class SmallCasesTests
{
    [Theory]
    [InlineData("--lr", "0,05", "error: --lr: '0,05' is not a number.")]
    [InlineData("--epochs", "1,0", "error: --epochs: '1,0' is not a whole number.")]
    [InlineData("--epochs", "1.0", "error: --epochs: '1.0' is not a whole number.")]
    [InlineData("--batch-size", "1,000", "error: --batch-size: '1,000' is not a whole number.")]
    public void NumbersWithGroupSeparatorsOrDecimalCommasAreRefused(string option, string value, string expected)
    {
        var (exit, output, error) = CliRunner.Run("train", "--dataset", "linear", option, value);
        Assert.Equal(2, exit);
        Assert.StartsWith(expected, error);
        Assert.DoesNotContain("E: ", output);
    }

    [Fact]
    public void EvaluateWhereConfusionPngCannotBeWrittenStillSucceedsWithAWarning()
    {
        using var folder = new TempFolder();
        string run = Path.Combine(folder.Path, "run");
        Assert.Equal(0, CliRunner.Run("train", "--dataset", "linear", "--epochs", "1", "--threads", "1", "--out", run).ExitCode);
        Directory.CreateDirectory(Path.Combine(run, "confusion.png"));   // a folder where the figure would go: it cannot be written

        var (exit, output, error) = CliRunner.Run("evaluate", "--model", Path.Combine(run, "model.safetensors"));

        Assert.Equal(0, exit);
        Assert.Contains("accuracy: ", output);
        Assert.StartsWith($"warning: {Path.Combine(run, "confusion.png")} not written (", error);
        Assert.DoesNotContain("error:", error);
    }

    [Fact]
    public async Task RunningOutOfMemoryNamesWhatWasBeingAllocated()
    {
        if (!ChildCli.Supported) return;
        using var folder = new TempFolder();
        var start = ChildCli.StartInfo("train", "--dataset", "digits", "--layers", "30000,30000", "--epochs", "1", "--out", Path.Combine(folder.Path, "run"));
        start.Environment["DOTNET_GCHeapHardLimit"] = "0x10000000";   // 256 MB: the 30000×30000 weights (3.6 GB) cannot fit
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.True(process.ExitCode == 1, $"exit {process.ExitCode}: {await error}");
        Assert.Equal("error: out of memory while building the network 64-30000-30000-10 (Single weights); a smaller dataset, network or batch needs less.", (await error).Trim());
        Assert.DoesNotContain("E: ", output);
    }

    [Fact]
    public void AConfigValueOfTheWrongTypeNamesTheFieldAndTheExpectedTypeNotClrTypes()
    {
        using var folder = new TempFolder();
        string config = folder.Write("config.json", Encoding.UTF8.GetBytes("{\"epochs\": \"3\", \"dataset\": \"linear\"}"));

        var (exit, _, error) = CliRunner.Run("train", "--config", config);

        Assert.Equal(2, exit);
        Assert.StartsWith($"error: --config {config}: field 'epochs' is not valid (line 1, ", error);
        Assert.EndsWith("expected a whole number.", error.Trim());
        Assert.DoesNotContain("System.", error);
    }

    [Fact]
    public void ArgumentErrorsDoNotEndInAParameterName()
    {
        var (exit, _, error) = CliRunner.Run("train", "--dataset", "linear", "--val-fraction", "0.99999", "--epochs", "1", "--out", Path.Combine(Path.GetTempPath(), $"never-{Guid.NewGuid():N}"));
        Assert.Equal(1, exit);
        Assert.StartsWith("error: ", error);
        Assert.DoesNotContain("(Parameter '", error);
    }

    [Theory]
    [InlineData("trian", "error: unknown command 'trian'; did you mean 'train'?")]
    [InlineData("evalute", "error: unknown command 'evalute'; did you mean 'evaluate'?")]
    [InlineData("fly", "error: unknown command 'fly' Commands: train, data, export")]
    public void AMisspelledCommandIsNamedWithTheNearestOne(string word, string expected)
    {
        var (exit, _, error) = CliRunner.Run(word);
        Assert.Equal(2, exit);
        Assert.StartsWith(expected, error);
    }

    [Fact]
    public void PlotRefusesAnOutputItCannotWrite()
    {
        using var folder = new TempFolder();
        string run = Path.Combine(folder.Path, "run");
        Assert.Equal(0, CliRunner.Run("train", "--dataset", "linear", "--epochs", "1", "--threads", "1", "--out", run).ExitCode);
        string jpg = Path.Combine(folder.Path, "x.jpg");

        var (exit, _, error) = CliRunner.Run("plot", run, "--out", jpg);

        Assert.Equal(2, exit);
        Assert.StartsWith($"error: --out '{jpg}': plot writes PNG or SVG", error);
        Assert.False(File.Exists(jpg));
    }

    [Fact]
    public void AFileDatasetIsRecordedByItsFullPath()
    {
        var settings = TrainCommandOptions.Resolve(new RunConfig { Dataset = "npz:data/x.npz" }, null, new HashSet<string>(), "out");
        Assert.Equal($"npz:{Path.GetFullPath("data/x.npz")}", settings.Config.Dataset);
        Assert.Equal(settings.Config.Dataset, settings.Data.Dataset);
    }

    [Fact]
    public void TheFolderOfAnAtomicWriteIsFlushedAndAFolderThatIsNotThereIsAnError()
    {
        using var folder = new TempFolder();
        AtomicFile.SyncDirectory(folder.Path);
        if (OperatingSystem.IsWindows()) return;
        var e = Assert.Throws<IOException>(() => AtomicFile.SyncDirectory(Path.Combine(folder.Path, "absent")));
        Assert.Contains("absent", e.Message);
    }

    [Fact]
    public void AStrayLastCsvClassIsWarnedOf()
    {
        using var folder = new TempFolder();

        var rows = new StringBuilder();
        for (int i = 0; i < 100; i++) rows.Append(System.Globalization.CultureInfo.InvariantCulture, $"{i},{i % 7},{i % 10}\n");
        rows.Append("5,5,10\n");
        string csv = folder.Write("stray.csv", Encoding.ASCII.GetBytes(rows.ToString()));
        var error = new StringWriter();
        DataLoader.WarnOfAStrayClass(Csv.Read<float>(csv), csv, error);
        Assert.Equal($"warning: {csv}: class 10 has one row, every other class at least 10; the network gets 11 outputs. A mislabelled row?", error.ToString().Trim());
        error = new StringWriter();
        DataLoader.WarnOfAStrayClass(Csv.Read<float>(folder.Write("fine.csv", Encoding.ASCII.GetBytes(rows.ToString()[..^7]))), csv, error);
        Assert.Empty(error.ToString());
    }

    [Fact]
    public void AGzipIdxFileIsReadIntoOneArrayOfItsSizeNotADoublingBuffer()
    {
        using var folder = new TempFolder();
        int[] shape = [2, 1024, 1074];   // 2,199,552 bytes: just past 2 MiB, where doubling would peak at 1 + 2 + 2.1 MiB
        byte[] pixels = FormatBytes.Random(2 * 1024 * 1074, seed: 8, bound: 4);
        string path = folder.Write("images.gz", FormatBytes.Gzip(FormatBytes.Idx(shape, pixels)));
        Idx.Read(path);   // warm up (JIT, buffers)

        long before = GC.GetAllocatedBytesForCurrentThread();
        var array = Idx.Read(path);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(pixels, array.Data);
        Assert.True(allocated < pixels.Length * 1.2, $"{allocated} bytes allocated for {pixels.Length}");
    }
}
