using System.Numerics;
using System.Numerics.Tensors;

namespace ScratchNet.Optimizers;

/// <summary>
/// AdamW, as <c>torch.optim.AdamW</c>: decoupled weight decay p ← p·(1 − lr·weightDecay), then the
/// <see cref="Adam{T}"/> update from the gradient alone. The decay applies to every parameter it steps,
/// biases included (as torch with one parameter group); it is separate from the network's L2 penalty.
/// </summary>
public sealed class AdamW<T> : Adam<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the optimiser.</summary>
    /// <param name="learningRate">Step size, &gt; 0.</param>
    /// <param name="beta1">β₁, in [0, 1).</param>
    /// <param name="beta2">β₂, in [0, 1).</param>
    /// <param name="epsilon">ε, &gt; 0.</param>
    /// <param name="weightDecay">Decoupled decay per unit of learning rate, ≥ 0 (torch's default 0.01).</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range.</exception>
    public AdamW(double learningRate = 0.001, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8, double weightDecay = 0.01)
        : base(learningRate, beta1, beta2, epsilon) =>
        WeightDecay = weightDecay >= 0 && double.IsFinite(weightDecay)
            ? weightDecay
            : throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "The weight decay must be finite and ≥ 0.");

    /// <summary>The decoupled weight decay: each step multiplies the weights by 1 − lr·weightDecay.</summary>
    public double WeightDecay { get; }

    /// <inheritdoc/>
    protected override void BeforeUpdate(Span<T> value, int parameterIndex) =>
        TensorPrimitives.Multiply(value, T.CreateChecked(1 - RateOf(parameterIndex) * WeightDecayOf(parameterIndex, WeightDecay)), value);
}
