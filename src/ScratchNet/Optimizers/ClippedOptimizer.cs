using System.Numerics;
using ScratchNet.Layers;

namespace ScratchNet.Optimizers;

/// <summary>
/// Clips the gradients by their global norm (<see cref="GradientClipping.ClipByGlobalNorm"/>), then lets
/// <see cref="Inner"/> step: set it as <c>network.Optimizer</c> to clip inside <c>Network.TrainStep</c>.
/// </summary>
/// <remarks>A schedule sets the rate on <see cref="Inner"/>. Wrapping plain SGD takes it off the fused path.</remarks>
public sealed class ClippedOptimizer<T>(IOptimizer<T> inner, double maxNorm) : IOptimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The optimiser that applies the clipped gradients.</summary>
    public IOptimizer<T> Inner { get; } = inner ?? throw new ArgumentNullException(nameof(inner));

    /// <summary>The largest global gradient norm let through.</summary>
    public double MaxNorm { get; } = maxNorm > 0 && double.IsFinite(maxNorm)
        ? maxNorm
        : throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "The maximum norm must be finite and > 0.");

    /// <summary>The global gradient norm of the last step, before clipping (NaN before the first).</summary>
    public double LastNorm { get; internal set; } = double.NaN;

    /// <inheritdoc/>
    public void Step(IReadOnlyList<Parameter<T>> parameters)
    {
        LastNorm = GradientClipping.ClipByGlobalNorm(parameters, MaxNorm);
        Inner.Step(parameters);
    }
}
