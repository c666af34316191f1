using System.Numerics;

namespace ScratchNet.Optimizers;

/// <summary>
/// SGD with momentum, as <c>torch.optim.SGD(momentum=μ, nesterov=…, weight_decay=λ)</c>: g ← g + λ·p (weight decay
/// coupled to the gradient, torch's), buf ← μ·buf + g, then p ← p − lr·buf, or with Nesterov p ← p − lr·(g + μ·buf).
/// With <c>decoupled</c> the decay is instead p ← p·(1 − lr·λ) before the step from the plain gradient (AdamW's
/// rule, applied to SGD). Each parameter steps at lr × its <see cref="Layers.Parameter{T}.LearningRateScale"/>, and
/// decays with its own <see cref="Layers.Parameter{T}.WeightDecay"/> when set (torch's parameter groups). One state tensor
/// per parameter: buf.
/// </summary>
public sealed class SgdMomentum<T> : StatefulOptimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the optimiser.</summary>
    /// <param name="learningRate">Step size, &gt; 0.</param>
    /// <param name="momentum">μ, in [0, 1).</param>
    /// <param name="nesterov">Whether to use Nesterov's look-ahead, g + μ·buf.</param>
    /// <param name="weightDecay">λ ≥ 0 (0: none).</param>
    /// <param name="decoupled">Decay the weights by lr·λ apart from the gradient, rather than adding λ·p to it.</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range.</exception>
    public SgdMomentum(double learningRate, double momentum = 0.9, bool nesterov = false, double weightDecay = 0, bool decoupled = false) : base(learningRate, 1)
    {
        Momentum = momentum is >= 0 and < 1 ? momentum : throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "Momentum must be in [0, 1).");
        Nesterov = nesterov;
        WeightDecay = weightDecay >= 0 && double.IsFinite(weightDecay)
            ? weightDecay
            : throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "The weight decay must be finite and ≥ 0.");
        Decoupled = decoupled;
    }

    /// <summary>μ, the fraction of the previous velocity kept.</summary>
    public double Momentum { get; }

    /// <summary>Whether the step uses g + μ·buf rather than buf.</summary>
    public bool Nesterov { get; }

    /// <summary>λ, the weight decay of the parameters that set none of their own.</summary>
    public double WeightDecay { get; }

    /// <summary>Whether the decay is p·(1 − lr·λ) apart from the gradient (true) or λ·p added to it (false, torch's SGD).</summary>
    public bool Decoupled { get; }

    /// <inheritdoc/>
    protected override void Update(Span<T> value, ReadOnlySpan<T> gradient, int parameterIndex)
    {
        var buf = StateOf(parameterIndex, 0);
        double rate = RateOf(parameterIndex), decay = WeightDecayOf(parameterIndex, WeightDecay);
        T mu = T.CreateChecked(Momentum), lr = T.CreateChecked(rate);
        T coupled = Decoupled ? T.Zero : T.CreateChecked(decay);
        if (Decoupled && decay != 0)
        {
            T shrink = T.CreateChecked(1 - rate * decay);
            for (int j = 0; j < value.Length; j++) value[j] *= shrink;
        }
        for (int j = 0; j < value.Length; j++)
        {
            T g = gradient[j] + coupled * value[j];
            T b = mu * buf[j] + g;   // buf starts at 0, so the first step gives buf = g, as torch's clone
            buf[j] = b;
            value[j] -= lr * (Nesterov ? g + mu * b : b);
        }
    }
}
