namespace ScratchNet;

/// <summary>Base of every error ScratchNet raises on purpose.</summary>
public class ScratchNetException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Two tensors, or a tensor and a layer, disagree on shape.</summary>
public sealed class ShapeMismatchException(string message) : ScratchNetException(message);

/// <summary>A network's layers do not fit together, or do not fit its inputs, outputs or loss.</summary>
public sealed class NetworkBuildException(string message) : ScratchNetException(message);

/// <summary>Training diverged: the loss became NaN or infinite.</summary>
public sealed class DivergenceException(string message, int epoch, int batch = -1) : ScratchNetException(message)
{
    /// <summary>The epoch (0-based) in which the loss was not finite.</summary>
    public int Epoch { get; } = epoch;

    /// <summary>The batch (0-based, within the epoch) whose loss was not finite; −1 when it was the epoch's evaluated loss.</summary>
    public int Batch { get; } = batch;

    /// <summary>The epochs completed before the divergence (from −1), when a trainer threw it; the network holds the weights of the last of them.</summary>
    public Training.History? History { get; init; }
}

/// <summary>A checkpoint file is malformed, truncated, or does not fit the trainer asked to resume from it; the message names the file and the fault.</summary>
public sealed class CheckpointFormatException(string message, Exception? inner = null) : ScratchNetException(message, inner);

/// <summary>A data file or embedded resource is malformed; the message names the source and the place.</summary>
public sealed class DataFormatException(string message, Exception? inner = null) : ScratchNetException(message, inner);

/// <summary>
/// A dataset's files are neither on disk nor downloadable (offline, or every mirror failed); the message
/// names the files, where they were looked for, and the folder to place them in.
/// </summary>
public sealed class DataNotFoundException(string message, IReadOnlyList<string> missingFiles, string folder) : ScratchNetException(message)
{
    /// <summary>The file names that are missing.</summary>
    public IReadOnlyList<string> MissingFiles { get; } = missingFiles;

    /// <summary>The folder the files belong in.</summary>
    public string Folder { get; } = folder;
}

/// <summary>A file's checksum differs from the published one; the message names the file and both checksums.</summary>
public sealed class ChecksumMismatchException(string message, string file, string expected, string actual) : ScratchNetException(message)
{
    /// <summary>The file (or, for a failed download, its name).</summary>
    public string File { get; } = file;

    /// <summary>The published checksum, e.g. "md5:8d4f…".</summary>
    public string Expected { get; } = expected;

    /// <summary>The checksum of the bytes received or found.</summary>
    public string Actual { get; } = actual;
}

/// <summary>A model file (safetensors) is malformed or does not describe a network ScratchNet can build; the message names the file and what is wrong.</summary>
public sealed class ModelFormatException(string message, Exception? inner = null) : ScratchNetException(message, inner);

/// <summary>
/// Processes training together (see <see cref="Training.IProcessGroup"/>) do not run the same thing: their data,
/// network or checkpoint differ. Every rank raises it at the same point; the message names the rank and the difference.
/// </summary>
public sealed class ProcessGroupException(string message) : ScratchNetException(message);
