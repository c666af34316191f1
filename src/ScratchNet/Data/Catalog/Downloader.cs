using System.Net;

namespace ScratchNet.Data.Catalog;

/// <summary>
/// Fetches one <see cref="RemoteFile"/> over HTTP into a folder. The bytes go to a temporary name
/// ("NAME.partial") while they arrive and are hashed on the way; only a download whose checksum matches
/// is renamed to NAME, so an interrupted or corrupt download never looks like a finished one.
/// </summary>
internal sealed class Downloader(HttpClient http, TimeSpan idleTimeout)
{
    /// <summary>Why one URL failed: its text is shown to the user; a checksum mismatch keeps both digests.</summary>
    public sealed record Failure(string Url, string Reason, string? ActualChecksum = null);

    /// <summary>
    /// Tries each URL of <paramref name="file"/> in turn until one gives the published checksum.
    /// Returns null on success, else the failure of every URL.
    /// </summary>
    public async Task<IReadOnlyList<Failure>?> DownloadAsync(RemoteFile file, string folder, IProgress<DownloadProgress>? progress, CancellationToken cancellation)
    {
        string destination = Path.Combine(folder, file.Name);
        string temporary = destination + ".partial";
        FileStream output;
        try
        {
            // FileShare.None: a second process downloading the same file fails here instead of interleaving bytes.
            output = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 16);
        }
        catch (IOException e)
        {
            return [new Failure(temporary, $"cannot write the temporary file ({e.Message}); is another download of it running?")];
        }
        var failures = new List<Failure>();
        bool verified = false;
        try
        {
            using (output)
            {
                foreach (string url in file.Urls)
                {
                    output.SetLength(0);
                    try
                    {
                        string actual = await FetchAsync(url, file, output, progress, cancellation);
                        if (file.Checksum.Matches(actual))
                        {
                            output.Flush(flushToDisk: true);
                            verified = true;
                            break;
                        }
                        failures.Add(new Failure(url, $"checksum {actual}, expected {file.Checksum}", actual));
                    }
                    catch (Exception e) when (e is HttpRequestException or IOException
                                                   || (e is OperationCanceledException && !cancellation.IsCancellationRequested))
                    {
                        failures.Add(new Failure(url, Describe(e)));
                    }
                }
            }
            if (!verified) return failures;
            File.Move(temporary, destination, overwrite: true);
            return null;
        }
        finally
        {
            // A failed or mismatched download leaves nothing behind; a verified one was renamed away.
            if (!verified) File.Delete(temporary);
        }
    }

    // Streams url into output, reporting progress; returns the checksum of the bytes received.
    private async Task<string> FetchAsync(string url, RemoteFile file, FileStream output, IProgress<DownloadProgress>? progress, CancellationToken cancellation)
    {
        // Cancelled when no byte arrives for idleTimeout: a stalled server ends in an error, not a hang.
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        idle.CancelAfter(idleTimeout);
        using var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, idle.Token);
        if (response.StatusCode != HttpStatusCode.OK)
            throw new HttpRequestException($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
        long? total = response.Content.Headers.ContentLength;
        using var hasher = file.Checksum.CreateHasher();
        await using var body = await response.Content.ReadAsStreamAsync(idle.Token);
        var buffer = new byte[1 << 16];
        long received = 0;
        progress?.Report(new DownloadProgress(file.Name, 0, total));
        int read;
        while ((read = await body.ReadAsync(buffer, idle.Token)) > 0)
        {
            idle.CancelAfter(idleTimeout);
            hasher.AppendData(buffer, 0, read);
            await output.WriteAsync(buffer.AsMemory(0, read), cancellation);
            received += read;
            progress?.Report(new DownloadProgress(file.Name, received, total));
        }
        if (total is { } expected && received != expected)
            throw new IOException($"the connection closed after {received} of {expected} bytes");
        return file.Checksum.Format(hasher);
    }

    private string Describe(Exception e) => e switch
    {
        OperationCanceledException => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"no data for {idleTimeout.TotalSeconds:0.#} s"),
        HttpRequestException { InnerException: { } inner } => inner.Message,
        _ => e.Message,
    };
}
