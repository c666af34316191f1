namespace ScratchNet.Tests.DataFormats;

/// <summary>A fresh folder under the system temp folder, deleted with everything in it on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"scratchnet-test-{Guid.NewGuid():N}");

    /// <summary>Writes <paramref name="bytes"/> to a file at <paramref name="relative"/> (folders created) and returns its path.</summary>
    public string Write(string relative, byte[] bytes)
    {
        Assert.False(System.IO.Path.IsPathRooted(relative), $"'{relative}' would land outside the temporary folder");
        string path = System.IO.Path.Combine(Path, relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>Every file below the folder, as paths relative to it, '/'-separated and sorted.</summary>
    public string[] Files() =>
        [.. Directory.EnumerateFiles(Path, "*", SearchOption.AllDirectories).Select(f => System.IO.Path.GetRelativePath(Path, f).Replace('\\', '/')).Order()];

    public void Dispose()
    {
        if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
    }
}
