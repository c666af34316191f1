namespace ScratchNet.Tests.DataFormats;

/// <summary>The check every malformed-file case makes: the reader rejects the file with an error that names it.</summary>
internal static class Rejection
{
    /// <summary>
    /// Writes <paramref name="bytes"/> to a file called <paramref name="name"/>, reads it with
    /// <paramref name="read"/>, and asserts a <see cref="DataFormatException"/> whose message starts with
    /// the file's path and contains <paramref name="expected"/>; <paramref name="what"/> names the case.
    /// </summary>
    public static void Assert(string name, byte[] bytes, Action<string> read, string what, string expected)
    {
        using var folder = new TempFolder();
        string path = folder.Write(name, bytes);

        var error = Xunit.Assert.Throws<DataFormatException>(() => read(path));

        Xunit.Assert.StartsWith(path, error.Message);
        Xunit.Assert.True(error.Message.Contains(expected, StringComparison.Ordinal), $"{what}: {error.Message}");
    }
}
