using System.Runtime.InteropServices;

namespace ScratchNet;

/// <summary>Writes files so that a reader sees the old content or the new, never a half-written file, even after a power cut.</summary>
public static partial class AtomicFile
{
    /// <summary>Writes <paramref name="text"/> to a temporary file beside <paramref name="path"/>, flushes it to disk, then renames it over <paramref name="path"/>.</summary>
    public static void WriteAllText(string path, string text) =>
        Write(path, stream =>
        {
            using var writer = new StreamWriter(stream, leaveOpen: true);
            writer.Write(text);
        });

    /// <summary>
    /// Lets <paramref name="write"/> fill a temporary file beside <paramref name="path"/>, flushes it to disk, renames it
    /// over <paramref name="path"/>, then flushes the folder (on Unix), so that the rename itself survives a crash.
    /// </summary>
    public static void Write(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        string temporary = $"{full}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, full, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
        SyncDirectory(Path.GetDirectoryName(full)!);
    }

    /// <summary>Flushes <paramref name="folder"/>'s entries (a rename, a new file) to disk: fsync on the folder, on Unix; nothing on Windows, whose rename is journaled.</summary>
    /// <exception cref="IOException">The folder cannot be opened or flushed; the message names it and the system's error.</exception>
    internal static void SyncDirectory(string folder)
    {
        if (OperatingSystem.IsWindows()) return;
        int descriptor = Open(folder, 0 /* O_RDONLY, the same on Linux and macOS */);
        if (descriptor < 0) throw new IOException($"Cannot open the folder '{folder}' to flush it to disk (errno {Marshal.GetLastPInvokeError()}).");
        try
        {
            // EINVAL: the file system cannot sync folders (some network and virtual ones); the rename is then as durable as it gets.
            if (Fsync(descriptor) != 0 && Marshal.GetLastPInvokeError() is var errno && errno != EInvalid)
                throw new IOException($"Cannot flush the folder '{folder}' to disk (errno {errno}).");
        }
        finally
        {
            _ = Close(descriptor);
        }
    }

    private const int EInvalid = 22;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int descriptor);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int descriptor);
}
