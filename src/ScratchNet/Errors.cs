namespace ScratchNet;

/// <summary>Base of every error ScratchNet raises on purpose.</summary>
public class ScratchNetException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Two tensors, or a tensor and a layer, disagree on shape.</summary>
public sealed class ShapeMismatchException(string message) : ScratchNetException(message);

/// <summary>A network's layers do not fit together, or do not fit its inputs, outputs or loss.</summary>
public sealed class NetworkBuildException(string message) : ScratchNetException(message);

/// <summary>Training diverged: the loss became NaN or infinite.</summary>
public sealed class DivergenceException(string message, int epoch) : ScratchNetException(message)
{
    /// <summary>The epoch (0-based) at whose end the loss was not finite.</summary>
    public int Epoch { get; } = epoch;
}

/// <summary>A data file or embedded resource is malformed; the message names the source and the place.</summary>
public sealed class DataFormatException(string message, Exception? inner = null) : ScratchNetException(message, inner);
