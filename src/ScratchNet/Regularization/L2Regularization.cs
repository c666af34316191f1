using System.Numerics;
using System.Numerics.Tensors;
using ScratchNet.Layers;

namespace ScratchNet.Regularization;

/// <summary>
/// The report's weight penalty: factor · Σ W² over the parameters flagged for it, added to the loss;
/// its gradient is 2 · factor · W.
/// </summary>
public sealed class L2Regularization<T>(double factor) where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The penalty's weight, λ in λ·Σ W².</summary>
    public double Factor { get; } = factor >= 0 && double.IsFinite(factor)
        ? factor
        : throw new ArgumentOutOfRangeException(nameof(factor), factor, "The regularisation factor must be finite and ≥ 0.");

    /// <summary>factor · Σ W² over the regularised parameters.</summary>
    public double Penalty(IReadOnlyList<Parameter<T>> parameters)
    {
        if (Factor == 0) return 0;
        double sum = 0;
        for (int i = 0; i < parameters.Count; i++)   // not foreach: an interface enumerator allocates
            if (parameters[i].Regularized) sum += double.CreateChecked(TensorPrimitives.SumOfSquares<T>(parameters[i].Value.Span));
        return Factor * sum;
    }

    /// <summary>Adds 2 · factor · W into the gradient of each regularised parameter.</summary>
    public void AddGradient(IReadOnlyList<Parameter<T>> parameters) => AddGradient(parameters, 0, parameters.Count);

    /// <summary>Adds 2 · factor · W into the gradient of each regularised parameter among <paramref name="parameters"/>[start..end).</summary>
    public void AddGradient(IReadOnlyList<Parameter<T>> parameters, int start, int end)
    {
        if (Factor == 0) return;
        T twiceFactor = T.CreateChecked(2 * Factor);
        for (int i = start; i < end; i++)
            if (parameters[i].Regularized)
                TensorPrimitives.MultiplyAdd(parameters[i].Value.Span, twiceFactor, parameters[i].Gradient.Span, parameters[i].Gradient.Span);
    }
}
