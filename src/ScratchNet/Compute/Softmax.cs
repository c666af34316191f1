using System.Numerics;
using System.Numerics.Tensors;

namespace ScratchNet.Compute;

/// <summary>Numerically stable softmax of one row, shared by the softmax layer and the fused cross-entropy.</summary>
internal static class SoftmaxKernel
{
    /// <summary>
    /// Writes p = softmax(z) and returns log Σ exp(z). Shifting by max z keeps every exp ≤ 1, so nothing
    /// overflows, and log p = z − logSumExp stays finite even where p rounds to 0.
    /// </summary>
    public static T Row<T>(ReadOnlySpan<T> z, Span<T> p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T max = TensorPrimitives.Max(z);
        TensorPrimitives.Subtract(z, max, p);
        TensorPrimitives.Exp(p, p);
        T sum = TensorPrimitives.Sum<T>(p);
        TensorPrimitives.Divide(p, sum, p);
        return max + T.Log(sum);
    }
}
