namespace ScratchNet.Data.Catalog;

/// <summary>A file a dataset is downloaded as: its official name, its published checksum and the URLs to try in order.</summary>
/// <param name="Name">The official file name, e.g. "train-images-idx3-ubyte.gz".</param>
/// <param name="Checksum">The published checksum.</param>
/// <param name="Urls">The official URL first, then mirrors.</param>
public sealed record RemoteFile(string Name, Checksum Checksum, IReadOnlyList<string> Urls);
