namespace ScratchNet.Data.Catalog;

/// <summary>How far a download has come.</summary>
/// <param name="File">The file being downloaded.</param>
/// <param name="BytesReceived">Bytes received so far.</param>
/// <param name="TotalBytes">The file's size, when the server said it.</param>
public readonly record struct DownloadProgress(string File, long BytesReceived, long? TotalBytes);
