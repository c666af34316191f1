using System.Numerics;
using ScratchNet.Layers;

namespace ScratchNet.Optimizers;

/// <summary>Updates parameters from their accumulated gradients, once per training step.</summary>
public interface IOptimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Applies one update to every parameter in <paramref name="parameters"/>.</summary>
    void Step(IReadOnlyList<Parameter<T>> parameters);
}
