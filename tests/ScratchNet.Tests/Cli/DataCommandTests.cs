using System.Text;
using ScratchNet.Cli;
using ScratchNet.Data.Catalog;
using ScratchNet.Data.Formats;
using ScratchNet.Tests.DataFormats;
using static ScratchNet.Tests.Cli.CliRunner;

namespace ScratchNet.Tests.Cli;

// The CLI sets the global thread count, and these tests point $SCRATCHNET_DATA at temporary folders.
[Collection(GlobalStateCollection.Name)]
public class DataCommandTests
{

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    // Runs with $SCRATCHNET_DATA pointing at folder, restoring it afterwards.
    private static (int ExitCode, string Output, string Error) RunWithCache(string folder, params string[] args)
    {
        string? previous = Environment.GetEnvironmentVariable(DataCache.FolderVariable);
        try
        {
            Environment.SetEnvironmentVariable(DataCache.FolderVariable, folder);
            return Run(args);
        }
        finally
        {
            Environment.SetEnvironmentVariable(DataCache.FolderVariable, previous);
        }
    }

    // A tiny Fashion-MNIST under the official names: 40 training and 10 test images of 28×28.
    private static void WriteFashionMnist(TempFolder folder, string subFolder = "fashion-mnist")
    {
        byte[] labels = [.. Enumerable.Range(0, 40).Select(i => (byte)(i % 10))];
        folder.Write(Path.Combine(subFolder, "train-images-idx3-ubyte.gz"), FormatBytes.Gzip(FormatBytes.Idx([40, 28, 28], FormatBytes.Random(40 * 784, seed: 50))));
        folder.Write(Path.Combine(subFolder, "train-labels-idx1-ubyte.gz"), FormatBytes.Gzip(FormatBytes.Idx([40], labels)));
        folder.Write(Path.Combine(subFolder, "t10k-images-idx3-ubyte"), FormatBytes.Idx([10, 28, 28], FormatBytes.Random(10 * 784, seed: 51)));
        folder.Write(Path.Combine(subFolder, "t10k-labels-idx1-ubyte"), FormatBytes.Idx([10], labels[..10]));
    }

    [Fact]
    public void TrainsOnFashionMnistFromADataDirectoryWithTheReportsRecipe()
    {
        using var data = new TempFolder();
        WriteFashionMnist(data);

        var (exitCode, output, error) = Run("train", "--dataset", "fashion-mnist", "--data-dir", data.Path, "--epochs", "1", "--threads", "1", "--out", Path.Combine(data.Path, "run"));

        Assert.True(exitCode == 0, error);
        Assert.Contains("# fashion-mnist: 40 images 28×28×1, 10 classes; pixels held as bytes: 0.0 MB (0.1 MB as float32)", output);
        Assert.Contains("32 train, 8 validation; network 784-800-300-10 linear relu linear relu linear softmax, ce; lr 0.001, reg 1E-05, batch 1, 1 epochs", output);
        Assert.Equal(2, Lines(output).Count(l => l.StartsWith("E: ", StringComparison.Ordinal)));
        // The tiny files are not the published ones: one warning per compressed training file.
        Assert.Equal(2, Lines(error).Count(l => l.StartsWith("warning: ", StringComparison.Ordinal) && l.Contains("not the published md5:")));
    }

    [Fact]
    public void ConvertWritesTheReportsNpzLayoutThatTrainLoadsBack()
    {
        using var data = new TempFolder();
        WriteFashionMnist(data, "");
        string npz = Path.Combine(data.Path, "fm-test.npz");

        var convert = Run("data", "convert", "fashion-mnist", "--to", "npz", "--split", "test", "--data-dir", data.Path, "--out", npz);
        var train = Run("train", "--dataset", $"npz:{npz}", "--epochs", "1", "--threads", "1", "--out", Path.Combine(data.Path, "run"));

        Assert.True(convert.ExitCode == 0, convert.Error);
        Assert.Equal($"# wrote {npz}: x (784, 10) float32, y (10, 10) float32", Lines(convert.Output).Single());
        var arrays = Npz.Read(npz);
        var images = Idx.Read(Path.Combine(data.Path, "t10k-images-idx3-ubyte"));
        Assert.Equal(images.Data[784 * 3 + 5] / 255f, arrays["x"].At<float>(5, 3)); // pixel 5 of test image 3
        Assert.Equal(1f, arrays["y"].At<float>(3, 3)); // its label, 3, one-hot
        Assert.True(train.ExitCode == 0, train.Error);
        Assert.Contains("# fm-test: npz file", train.Output);
    }

    [Fact]
    public void TrainsOnCsvWithANamedLabelColumn()
    {
        using var data = new TempFolder();
        var text = new StringBuilder("species,x,y\n");
        for (int i = 0; i < 60; i++) text.Append($"{i % 2},{(i % 2 == 0 ? -1 : 1) * (1 + i % 5)},{i % 7}\n");
        string csv = data.Write("pts.csv", Encoding.ASCII.GetBytes(text.ToString()));

        var (exitCode, output, error) = Run("train", "--dataset", $"csv:{csv}", "--csv-label", "species", "--epochs", "20", "--threads", "1", "--out", Path.Combine(data.Path, "run"));

        Assert.True(exitCode == 0, error);
        Assert.Contains("network 2-128-64-2", output);
        Assert.Contains("vA: 1\t", Lines(output).Last(l => l.StartsWith("E: ", StringComparison.Ordinal)) + "\t");
    }

    [Fact]
    public void ListShowsTheCacheFolderAndWhatIsInIt()
    {
        using var cache = new TempFolder();
        WriteFashionMnist(cache);

        var (exitCode, output, _) = RunWithCache(cache.Path, "data", "list");

        Assert.Equal(0, exitCode);
        var lines = Lines(output);
        Assert.Equal($"# cache: {cache.Path} (set $SCRATCHNET_DATA to move it)", lines[0]);
        Assert.StartsWith($"fashion-mnist\t60,000 train, 10,000 test, 784 features, 10 classes\tin cache ({Path.Combine(cache.Path, "fashion-mnist")})", lines[1]);
        Assert.StartsWith("mnist\t60,000 train, 10,000 test, 784 features, 10 classes\tnot downloaded", lines[2]);
        Assert.Contains(lines, l => l.StartsWith("cifar-100\t50,000 train, 10,000 test, 3072 features, 100 classes\tnot downloaded", StringComparison.Ordinal));
    }

    [Fact]
    public void TrainFromTheCacheChecksThePublishedChecksums()
    {
        using var cache = new TempFolder();
        WriteFashionMnist(cache);

        var (exitCode, _, error) = RunWithCache(cache.Path, "train", "--dataset", "fashion-mnist", "--epochs", "1");

        // Files placed in the cache by hand are held to the published checksums; --data-dir would accept them.
        Assert.Equal(CliApp.RunError, exitCode);
        Assert.StartsWith($"error: {Path.Combine(cache.Path, "fashion-mnist", "train-images-idx3-ubyte.gz")} has checksum md5:", error);
        Assert.Contains("(scratchnet: --data-dir)", error);
        Assert.Single(Lines(error));
    }

    [Fact]
    public void RunErrorsAreOneLineNamingTheFile()
    {
        using var data = new TempFolder();
        string bad = data.Write("bad.npz", FormatBytes.Random(100, seed: 52));

        var missing = Run("train", "--dataset", "fashion-mnist", "--data-dir", data.Path);
        var corrupt = Run("train", "--dataset", $"npz:{bad}");
        var absent = Run("train", "--dataset", $"csv:{Path.Combine(data.Path, "none.csv")}");

        Assert.Equal(CliApp.RunError, missing.ExitCode);
        Assert.StartsWith($"error: fashion-mnist (train): none of {data.Path}, ", missing.Error);
        Assert.Equal(CliApp.RunError, corrupt.ExitCode);
        Assert.StartsWith($"error: {bad}: not a valid zip archive", corrupt.Error);
        Assert.Equal(CliApp.RunError, absent.ExitCode);
        Assert.Contains("none.csv", absent.Error);
        Assert.All(new[] { missing, corrupt, absent }, r => Assert.Single(Lines(r.Error)));
    }

    [Theory]
    [InlineData(new[] { "train", "--dataset", "fashion-mnist", "--labels", "coarse" }, "--labels applies to cifar-100 only, not to 'fashion-mnist'.")]
    [InlineData(new[] { "train", "--dataset", "digits", "--data-dir", "/tmp" }, "--data-dir applies to fashion-mnist, mnist, cifar-10, cifar-100, not to 'digits'.")]
    [InlineData(new[] { "train", "--dataset", "npz:a.npz", "--csv-label", "y" }, "--csv-label and --csv-header apply to csv:PATH only")]
    [InlineData(new[] { "train", "--dataset", "npz:" }, "--dataset: unknown value 'npz:'; expected one of digits, linear, folded, square, patterns, fashion-mnist, mnist, cifar-10, cifar-100, npz:PATH, csv:PATH.")]
    [InlineData(new[] { "train", "--dataset", "cifar-100", "--labels", "medium" }, "--labels: unknown value 'medium'; expected one of fine, coarse.")]
    [InlineData(new[] { "data", "convert", "digits", "--to", "npz", "--split", "test" }, "--split test: 'digits' has no official test files")]
    [InlineData(new[] { "data", "convert", "fashion-mnist" }, "Option '--to' is required.")]
    [InlineData(new[] { "data", "convert", "mnist", "--to", "hdf5" }, "--to: unknown value 'hdf5'; expected one of npz.")]
    [InlineData(new[] { "data", "download", "imagenet" }, "NAME: unknown dataset 'imagenet'; expected one of fashion-mnist, mnist, cifar-10, cifar-100.")]
    public void MisusedDataOptionsAreUsageErrors(string[] args, string expected)
    {
        var (exitCode, _, error) = Run(args);

        Assert.Equal(CliApp.UsageError, exitCode);
        Assert.StartsWith("error: ", error);
        Assert.Contains(expected, error);
        Assert.Single(Lines(error));
    }
}
