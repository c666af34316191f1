using System.Numerics;
using System.Numerics.Tensors;
using ScratchNet.Layers;

namespace ScratchNet.Optimizers;

/// <summary>Gradient clipping, applied between computing gradients and the optimiser's step.</summary>
public static class GradientClipping
{
    /// <summary>
    /// Scales every gradient by min(1, maxNorm / (‖g‖ + 1e-6)), where ‖g‖ is the L2 norm of all the
    /// gradients together, as <c>torch.nn.utils.clip_grad_norm_</c>; a <see cref="Parameter{T}.Frozen"/> parameter's gradient
    /// is neither counted nor scaled (torch's has none). Returns ‖g‖ before clipping.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxNorm"/> is not finite and &gt; 0.</exception>
    public static double ClipByGlobalNorm<T>(IReadOnlyList<Parameter<T>> parameters, double maxNorm) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!(maxNorm > 0 && double.IsFinite(maxNorm)))
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "The maximum norm must be finite and > 0.");
        double squares = 0;
        for (int i = 0; i < parameters.Count; i++)   // not foreach: an interface enumerator allocates
            if (!parameters[i].Frozen) squares += double.CreateChecked(TensorPrimitives.SumOfSquares<T>(parameters[i].Gradient.Span));
        double norm = Math.Sqrt(squares);
        double scale = maxNorm / (norm + 1e-6);
        if (scale < 1)
        {
            T factor = T.CreateChecked(scale);
            for (int i = 0; i < parameters.Count; i++)
                if (!parameters[i].Frozen) TensorPrimitives.Multiply(parameters[i].Gradient.Span, factor, parameters[i].Gradient.Span);
        }
        return norm;
    }
}
