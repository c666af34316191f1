using System.Formats.Tar;
using System.IO.Compression;
using ScratchNet.Data.Catalog;

namespace ScratchNet.Tests.DataFormats;

public class TarGzTests
{
    [Fact]
    public void ExtractsOnlyTheNamedMembers()
    {
        using var folder = new TempFolder();
        string archive = folder.Write("a.tar.gz", FormatBytes.TarGz(
            ("cifar-10-batches-bin/data_batch_1.bin", [1, 2, 3]),
            ("cifar-10-batches-bin/readme.html", [9]),
            ("./cifar-10-batches-bin/test_batch.bin", [4, 5])));
        string destination = Path.Combine(folder.Path, "out");

        var written = TarGz.Extract(archive, destination, ["cifar-10-batches-bin/data_batch_1.bin", "cifar-10-batches-bin/test_batch.bin"]);

        Assert.Equal(2, written.Count);
        Assert.Equal(["a.tar.gz", "out/cifar-10-batches-bin/data_batch_1.bin", "out/cifar-10-batches-bin/test_batch.bin"], folder.Files());
        Assert.Equal([4, 5], File.ReadAllBytes(Path.Combine(destination, "cifar-10-batches-bin", "test_batch.bin")));
    }

    [Theory]
    [InlineData("../evil.bin")]
    [InlineData("cifar-10-batches-bin/../../evil.bin")]
    [InlineData("/tmp/evil.bin")]
    public void RefusesAnArchiveWithAnEntryOutsideItsFolder(string name)
    {
        using var folder = new TempFolder();
        string archive = folder.Write("a.tar.gz", FormatBytes.TarGz((name, [6, 6, 6]), ("cifar-10-batches-bin/test_batch.bin", [1])));

        var error = Assert.Throws<DataFormatException>(() => TarGz.Extract(archive, Path.Combine(folder.Path, "out"), ["cifar-10-batches-bin/test_batch.bin"]));

        Assert.Contains($"entry '{name}' names a path outside the archive's folder", error.Message);
        Assert.Equal(["a.tar.gz"], folder.Files());
    }

    [Fact]
    public void AWantedMemberThatIsALinkIsRefused()
    {
        using var folder = new TempFolder();
        using var memory = new MemoryStream();
        using (var gzip = new GZipStream(memory, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Pax))
            tar.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "cifar-100-binary/train.bin") { LinkName = "/etc/passwd" });
        string archive = folder.Write("a.tar.gz", memory.ToArray());

        var error = Assert.Throws<DataFormatException>(() => TarGz.Extract(archive, Path.Combine(folder.Path, "out"), ["cifar-100-binary/train.bin"]));

        Assert.Contains("entry 'cifar-100-binary/train.bin' is a SymbolicLink; expected a regular file", error.Message);
    }

    [Fact]
    public void MissingMembersAndCorruptArchivesAreDataFormatErrors()
    {
        using var folder = new TempFolder();
        byte[] good = FormatBytes.TarGz(("d/a.bin", FormatBytes.Random(5000, seed: 5)));
        string archive = folder.Write("a.tar.gz", good);
        string truncated = folder.Write("t.tar.gz", good[..(good.Length / 2)]);
        string notGzip = folder.Write("n.tar.gz", FormatBytes.Random(100, seed: 6));
        string destination = Path.Combine(folder.Path, "out");

        Assert.Contains("the archive has no d/b.bin", Assert.Throws<DataFormatException>(() => TarGz.Extract(archive, destination, ["d/a.bin", "d/b.bin"])).Message);
        Assert.Contains("not a valid .tar.gz archive", Assert.Throws<DataFormatException>(() => TarGz.Extract(truncated, destination, ["d/a.bin"])).Message);
        Assert.Contains("not a valid .tar.gz archive", Assert.Throws<DataFormatException>(() => TarGz.Extract(notGzip, destination, ["d/a.bin"])).Message);
    }
}
