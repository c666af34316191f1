using ScratchNet.Data.Catalog;

namespace ScratchNet.Tests.DataFormats;

/// <summary>Downloads into the cache from a local HTTP server: success, mirrors, checksum mismatch, offline, cut and stalled transfers.</summary>
public class DownloadTests
{
    private static readonly byte[] First = FormatBytes.Random(200_000, seed: 10), Second = FormatBytes.Random(1000, seed: 11);

    // A two-file dataset whose files have the given URLs and the checksums of First and Second.
    private static CatalogEntry TwoFiles(string[] firstUrls, string[] secondUrls) => DatasetCatalog.Find("mnist")! with
    {
        Name = "two-files",
        Downloads =
        [
            new("first.gz", Checksum.Parse(FormatBytes.Md5(First)), firstUrls),
            new("second.gz", Checksum.Parse(FormatBytes.Md5(Second)), secondUrls),
        ],
    };

    private sealed class Recorder : IProgress<DownloadProgress>
    {
        public List<DownloadProgress> Reports { get; } = [];

        public void Report(DownloadProgress value) => Reports.Add(value);
    }

    [Fact]
    public async Task DownloadsVerifiesAndReportsProgressThenReusesTheCache()
    {
        using var server = new LocalHttpServer();
        using var cache = new TempFolder();
        var entry = TwoFiles([server.Serve("first.gz", First)], [server.Serve("second.gz", Second)]);
        var progress = new Recorder();

        string folder = await new DataCache(cache.Path).DownloadAsync(entry, progress);
        await new DataCache(cache.Path).DownloadAsync(entry);

        Assert.Equal(Path.Combine(cache.Path, "two-files"), folder);
        Assert.Equal(["two-files/first.gz", "two-files/second.gz"], cache.Files());
        Assert.Equal(First, File.ReadAllBytes(Path.Combine(folder, "first.gz")));
        Assert.Equal(new DownloadProgress("first.gz", First.Length, First.Length), progress.Reports.Last(r => r.File == "first.gz"));
        Assert.True(progress.Reports.Count(r => r.File == "first.gz") > 2, "progress arrives in steps");
        Assert.Equal(1, server.Hits["first.gz"]); // the second call found both files verified in the cache
    }

    [Fact]
    public async Task AFailingUrlFallsBackToTheNextMirror()
    {
        using var server = new LocalHttpServer();
        using var cache = new TempFolder();
        var entry = TwoFiles([server.BaseUrl + "missing/first.gz", server.Serve("first.gz", First)], [LocalHttpServer.Unreachable("x"), server.Serve("second.gz", Second)]);

        await new DataCache(cache.Path).DownloadAsync(entry);

        Assert.Equal(["two-files/first.gz", "two-files/second.gz"], cache.Files());
    }

    [Fact]
    public async Task AChecksumMismatchDeletesTheDownloadAndSaysSo()
    {
        using var server = new LocalHttpServer();
        using var cache = new TempFolder();
        var entry = TwoFiles([server.Serve("first.gz", Second)], [server.Serve("second.gz", Second)]);

        var error = await Assert.ThrowsAsync<ChecksumMismatchException>(() => new DataCache(cache.Path).DownloadAsync(entry));

        Assert.Equal("first.gz", error.File);
        Assert.Equal(FormatBytes.Md5(First), error.Expected);
        Assert.Equal(FormatBytes.Md5(Second), error.Actual);
        Assert.Contains($"first.gz downloaded from {server.BaseUrl}first.gz has checksum {FormatBytes.Md5(Second)}, not the published {FormatBytes.Md5(First)}; the download was deleted.", error.Message);
        Assert.Equal(["two-files/second.gz"], cache.Files()); // no first.gz, no first.gz.partial
    }

    [Fact]
    public async Task OfflineTheErrorNamesTheFilesAndTheFolderToPutThemIn()
    {
        using var server = new LocalHttpServer();
        using var cache = new TempFolder();
        string unreachable = LocalHttpServer.Unreachable("first.gz");
        var entry = TwoFiles([unreachable], [server.BaseUrl + "second.gz"]);

        var error = await Assert.ThrowsAsync<DataNotFoundException>(() => new DataCache(cache.Path).DownloadAsync(entry));

        string folder = Path.Combine(cache.Path, "two-files");
        Assert.Equal(["first.gz", "second.gz"], error.MissingFiles);
        Assert.Equal(folder, error.Folder);
        Assert.Contains($"first.gz ({unreachable}: ", error.Message);
        Assert.Contains($"second.gz ({server.BaseUrl}second.gz: HTTP 404 Not Found)", error.Message);
        Assert.Contains($"download first.gz, second.gz elsewhere and put them in {folder}", error.Message);
        Assert.Empty(cache.Files());
    }

    [Fact]
    public async Task ACutTransferLeavesNothingBehind()
    {
        using var server = new LocalHttpServer();
        using var cache = new TempFolder();
        var entry = TwoFiles([server.Serve("first.gz", First, LocalHttpServer.Behaviour.CutShort)], [server.Serve("second.gz", Second)]);

        var error = await Assert.ThrowsAsync<DataNotFoundException>(() => new DataCache(cache.Path).DownloadAsync(entry));

        Assert.Equal(["first.gz"], error.MissingFiles);
        Assert.Equal(["two-files/second.gz"], cache.Files());
    }

    [Fact]
    public async Task AStalledServerTimesOutInsteadOfHanging()
    {
        using var server = new LocalHttpServer();
        using var cache = new TempFolder();
        var entry = TwoFiles([server.Serve("first.gz", First, LocalHttpServer.Behaviour.Stall)], [server.Serve("second.gz", Second)]);

        var error = await Assert.ThrowsAsync<DataNotFoundException>(() => new DataCache(cache.Path, idleTimeout: TimeSpan.FromMilliseconds(300)).DownloadAsync(entry));

        Assert.Contains($"{server.BaseUrl}first.gz: no data for 0.3 s", error.Message);
        Assert.Equal(["two-files/second.gz"], cache.Files());
    }

    [Fact]
    public async Task APartialFileFromAnInterruptedRunIsReplaced()
    {
        using var server = new LocalHttpServer();
        using var cache = new TempFolder();
        cache.Write("two-files/first.gz.partial", [1, 2, 3]); // as a killed download leaves it
        var entry = TwoFiles([server.Serve("first.gz", First)], [server.Serve("second.gz", Second)]);

        await new DataCache(cache.Path).DownloadAsync(entry);

        Assert.Equal(["two-files/first.gz", "two-files/second.gz"], cache.Files());
        Assert.Equal(First, File.ReadAllBytes(Path.Combine(cache.Path, "two-files", "first.gz")));
    }

    [Fact]
    public async Task AFileInTheCacheThatDiffersFromThePublishedChecksumIsAnError()
    {
        using var server = new LocalHttpServer();
        using var cache = new TempFolder();
        string placed = cache.Write("two-files/first.gz", Second);
        var entry = TwoFiles([server.Serve("first.gz", First)], [server.Serve("second.gz", Second)]);

        var error = await Assert.ThrowsAsync<ChecksumMismatchException>(() => new DataCache(cache.Path).DownloadAsync(entry));

        Assert.StartsWith($"{placed} has checksum {FormatBytes.Md5(Second)}, not the published {FormatBytes.Md5(First)}. Delete it to download it again", error.Message);
        Assert.False(server.Hits.ContainsKey("first.gz"));
    }
}
