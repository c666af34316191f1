using ScratchNet.Data.Catalog;
using ScratchNet.Data.Formats;

namespace ScratchNet.Tests.DataFormats;

/// <summary>Where catalog datasets are found: a data directory's layouts, archives unpacked into the cache, downloads on first use.</summary>
public class DataCacheTests
{
    private static readonly CatalogEntry FashionMnist = DatasetCatalog.Find("fashion-mnist")!;
    private static readonly CatalogEntry Cifar10 = DatasetCatalog.Find("cifar-10")!;
    private static readonly CatalogEntry Cifar100 = DatasetCatalog.Find("cifar-100")!;

    // Tiny IDX files under the official names: 6 training and 3 test images of 28×28.
    private static Dictionary<string, byte[]> IdxFiles(bool gzip = true)
    {
        byte[] Maybe(byte[] b) => gzip ? FormatBytes.Gzip(b) : b;
        string suffix = gzip ? ".gz" : "";
        return new()
        {
            ["train-images-idx3-ubyte" + suffix] = Maybe(FormatBytes.Idx([6, 28, 28], FormatBytes.Random(6 * 784, seed: 20))),
            ["train-labels-idx1-ubyte" + suffix] = Maybe(FormatBytes.Idx([6], [0, 1, 2, 3, 4, 9])),
            ["t10k-images-idx3-ubyte" + suffix] = Maybe(FormatBytes.Idx([3, 28, 28], FormatBytes.Random(3 * 784, seed: 21))),
            ["t10k-labels-idx1-ubyte" + suffix] = Maybe(FormatBytes.Idx([3], [5, 6, 7])),
        };
    }

    private static void WriteAll(TempFolder folder, string subFolder, Dictionary<string, byte[]> files)
    {
        foreach (var (name, bytes) in files) folder.Write(Path.Combine(subFolder, name), bytes);
    }

    // CIFAR-10's six batches with one record each (labels 0..5), as the archive's folder holds them.
    private static (string Name, byte[] Data)[] CifarBatches(string folder = "cifar-10-batches-bin") =>
        [.. Cifar10.TrainFiles.Concat(Cifar10.TestFiles).Select((f, i) => ($"{folder}/{f}", FormatBytes.CifarRecords(FormatBytes.Random(3072, seed: i), [(byte)i])))];

    [Theory]
    [InlineData("", true)]
    [InlineData("fashion-mnist", true)]
    [InlineData("fashion-mnist", false)]
    [InlineData("FashionMNIST/raw", true)]
    public async Task FindsIdxFilesInAnyOfTheDataDirectoryLayouts(string subFolder, bool gzip)
    {
        using var data = new TempFolder();
        using var cache = new TempFolder();
        WriteAll(data, subFolder, IdxFiles(gzip));

        var train = await new DataCache(cache.Path).LoadAsync(FashionMnist, DatasetSplit.Train, data.Path);
        var test = await new DataCache(cache.Path).LoadAsync(FashionMnist, DatasetSplit.Test, data.Path);

        Assert.Equal(Path.Combine(data.Path, subFolder).TrimEnd('/'), train.Folder);
        Assert.Equal((6, 28, 28, 10), (train.Images.Count, train.Images.Height, train.Images.Width, train.Images.Classes));
        Assert.Equal([5, 6, 7], test.Images.Labels);
        Assert.Equal("fashion-mnist (test)", test.Images.Name);
        // Our tiny files are not the published ones: with a data directory that is a warning per
        // compressed file of the split (decompressed files have no published checksum).
        Assert.Equal(gzip ? 2 : 0, train.Warnings.Count);
        if (gzip) Assert.Contains($"train-images-idx3-ubyte.gz has checksum md5:", train.Warnings[0]);
        if (gzip) Assert.EndsWith($"not the published {FashionMnist.Downloads[0].Checksum}; using it as it is.", train.Warnings[0]);
        Assert.Empty(cache.Files()); // nothing downloaded, nothing copied
    }

    [Fact]
    public async Task MissingFilesInADataDirectoryNameWhereWeLookedAndWhereToPutThem()
    {
        using var data = new TempFolder();
        data.Write("fashion-mnist/train-images-idx3-ubyte.gz", IdxFiles()["train-images-idx3-ubyte.gz"]);

        var error = await Assert.ThrowsAsync<DataNotFoundException>(() => new DataCache(data.Path).LoadAsync(FashionMnist, DatasetSplit.Train, data.Path));

        string expectedFolder = Path.Combine(data.Path, "fashion-mnist");
        Assert.Equal(expectedFolder, error.Folder);
        Assert.Equal(["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"], error.MissingFiles);
        Assert.StartsWith($"fashion-mnist (train): none of {data.Path}, {expectedFolder}, {Path.Combine(data.Path, "FashionMNIST/raw")} holds train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz. Put the official files in {expectedFolder} (from http://fashion-mnist", error.Message);
    }

    [Fact]
    public async Task AMissingDataDirectoryIsNamed()
    {
        using var data = new TempFolder();
        string missing = Path.Combine(data.Path, "nope");

        var error = await Assert.ThrowsAsync<DataNotFoundException>(() => new DataCache(data.Path).LoadAsync(FashionMnist, DatasetSplit.Train, missing));

        Assert.Equal($"The data directory {missing} does not exist.", error.Message);
    }

    [Fact]
    public async Task ReadsExtractedCifarBatchesFromTheArchivesFolder()
    {
        using var data = new TempFolder();
        foreach (var (name, bytes) in CifarBatches()) data.Write(name, bytes);

        var train = await new DataCache(data.Path).LoadAsync(Cifar10, DatasetSplit.Train, data.Path);
        var test = await new DataCache(data.Path).LoadAsync(Cifar10, DatasetSplit.Test, data.Path);

        Assert.Equal([0, 1, 2, 3, 4], train.Images.Labels);
        Assert.Equal([5], test.Images.Labels);
        Assert.Equal(Path.Combine(data.Path, "cifar-10-batches-bin"), train.Folder);
        Assert.Empty(train.Warnings); // the extracted batches have no published checksum
    }

    [Fact]
    public async Task AnArchiveInADataDirectoryIsUnpackedIntoTheCacheNotBesideIt()
    {
        using var data = new TempFolder();
        using var cache = new TempFolder();
        data.Write("cifar-10-binary.tar.gz", FormatBytes.TarGz([.. CifarBatches(), ("cifar-10-batches-bin/readme.html", [1])]));

        var loaded = await new DataCache(cache.Path).LoadAsync(Cifar10, DatasetSplit.Test, data.Path);

        Assert.Equal([5], loaded.Images.Labels);
        Assert.Equal(["cifar-10-binary.tar.gz"], data.Files());
        Assert.Equal(Cifar10.TrainFiles.Concat(Cifar10.TestFiles).Select(f => $"cifar-10/cifar-10-batches-bin/{f}").Order(), cache.Files());
        Assert.Contains("cifar-10-binary.tar.gz has checksum md5:", Assert.Single(loaded.Warnings));
    }

    [Fact]
    public async Task AnEmptyCacheDownloadsOnFirstUseAndLoads()
    {
        using var server = new LocalHttpServer();
        using var cache = new TempFolder();
        var files = IdxFiles();
        var entry = FashionMnist with
        {
            Downloads = [.. FashionMnist.Downloads.Select(d => d with { Checksum = Checksum.Parse(FormatBytes.Md5(files[d.Name])), Urls = [server.Serve(d.Name, files[d.Name])] })],
        };

        var loaded = await new DataCache(cache.Path).LoadAsync(entry, DatasetSplit.Train);
        var again = await new DataCache(cache.Path).LoadAsync(entry, DatasetSplit.Test);

        Assert.Equal([0, 1, 2, 3, 4, 9], loaded.Images.Labels);
        Assert.Equal([5, 6, 7], again.Images.Labels);
        Assert.Empty(loaded.Warnings);
        Assert.Equal(files.Keys.Select(f => $"fashion-mnist/{f}").Order(), cache.Files());
        Assert.All(server.Hits.Values, hits => Assert.Equal(1, hits));
    }

    [Fact]
    public async Task CifarArchivesAreDownloadedAndUnpackedWithOnlyTheDataFiles()
    {
        using var server = new LocalHttpServer();
        using var cache = new TempFolder();
        byte[] pixels = FormatBytes.Random(2 * 3072, seed: 30);
        byte[] archive = FormatBytes.TarGz(
            ("cifar-100-binary/train.bin", FormatBytes.CifarRecords(pixels, labels: [99, 7], coarse: [19, 2])),
            ("cifar-100-binary/test.bin", FormatBytes.CifarRecords(pixels, labels: [1, 2], coarse: [3, 4])),
            ("cifar-100-binary/fine_label_names.txt", [65]));
        var entry = Cifar100 with { Downloads = [Cifar100.Downloads[0] with { Checksum = Checksum.Parse(FormatBytes.Md5(archive)), Urls = [server.Serve("c.tar.gz", archive)] }] };
        var cacheOf = new DataCache(cache.Path);

        var coarse = await cacheOf.LoadAsync(entry, DatasetSplit.Train, labels: CifarLabels.Coarse);

        Assert.Equal([19, 2], coarse.Images.Labels);
        Assert.Equal(20, coarse.Images.Classes);
        Assert.True(cacheOf.Holds(entry));
        Assert.Equal(["cifar-100/cifar-100-binary.tar.gz", "cifar-100/cifar-100-binary/test.bin", "cifar-100/cifar-100-binary/train.bin"], cache.Files());
    }

    [Fact]
    public async Task UnpackedDataFilesMakeTheArchiveUnnecessary()
    {
        using var cache = new TempFolder();
        foreach (var (name, bytes) in CifarBatches("cifar-10/cifar-10-batches-bin")) cache.Write(name, bytes);
        var offline = Cifar10 with { Downloads = [Cifar10.Downloads[0] with { Urls = [LocalHttpServer.Unreachable("c.tar.gz")] }] };

        string folder = await new DataCache(cache.Path).DownloadAsync(offline);
        var test = await new DataCache(cache.Path).LoadAsync(offline, DatasetSplit.Test);

        Assert.Equal(Path.Combine(cache.Path, "cifar-10"), folder);
        Assert.Equal([5], test.Images.Labels);
    }

    [Fact]
    public void TheCatalogsIdxDownloadsAreItsDataFiles()
    {
        foreach (var entry in DatasetCatalog.All)
        {
            Assert.NotEmpty(entry.Downloads);
            Assert.All(entry.Downloads, d => Assert.All(d.Urls, u => Assert.EndsWith("/" + d.Name, u)));
            if (entry.Format == CatalogFormat.Idx)
                Assert.Equal(entry.TrainFiles.Concat(entry.TestFiles), entry.Downloads.Select(d => d.Name));
            else
                Assert.NotNull(entry.ArchiveFolder);
        }
        Assert.Same(FashionMnist, DatasetCatalog.Find("Fashion-MNIST"));
        Assert.Null(DatasetCatalog.Find("imagenet"));
    }
}

[Collection(GlobalStateCollection.Name)]
public class DataCacheFolderTests
{
    [Fact]
    public void TheEnvironmentVariableChoosesTheCacheFolder()
    {
        string? previous = Environment.GetEnvironmentVariable(DataCache.FolderVariable);
        try
        {
            Environment.SetEnvironmentVariable(DataCache.FolderVariable, "/data/sets");
            Assert.Equal("/data/sets", DataCache.DefaultFolder());
            Environment.SetEnvironmentVariable(DataCache.FolderVariable, null);
            Assert.EndsWith(Path.Combine("scratchnet", "data"), DataCache.DefaultFolder());
            Assert.True(Path.IsPathRooted(new DataCache().Folder));
        }
        finally
        {
            Environment.SetEnvironmentVariable(DataCache.FolderVariable, previous);
        }
    }
}
