using System.Numerics;

namespace ScratchNet.Optimizers;

/// <summary>
/// RMSProp, as <c>torch.optim.RMSprop</c> (not centred): s ← α·s + (1 − α)·g², then
/// p ← p − lr·g / (√s + ε); with momentum μ &gt; 0, buf ← μ·buf + g / (√s + ε) and p ← p − lr·buf.
/// Two state tensors per parameter: s (square average), then buf (unused and zero when μ = 0).
/// </summary>
public sealed class RmsProp<T> : StatefulOptimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the optimiser.</summary>
    /// <param name="learningRate">Step size, &gt; 0 (torch's default 0.01).</param>
    /// <param name="alpha">α, decay of the square average, in [0, 1).</param>
    /// <param name="epsilon">ε, added to the root, &gt; 0.</param>
    /// <param name="momentum">μ in [0, 1); 0 turns momentum off.</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range.</exception>
    public RmsProp(double learningRate = 0.01, double alpha = 0.99, double epsilon = 1e-8, double momentum = 0) : base(learningRate, 2)
    {
        Alpha = alpha is >= 0 and < 1 ? alpha : throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "α must be in [0, 1).");
        Epsilon = epsilon > 0 && double.IsFinite(epsilon) ? epsilon : throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "ε must be finite and > 0.");
        Momentum = momentum is >= 0 and < 1 ? momentum : throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "Momentum must be in [0, 1).");
    }

    /// <summary>α, decay of the running average of g².</summary>
    public double Alpha { get; }

    /// <summary>ε, keeps the denominator away from zero.</summary>
    public double Epsilon { get; }

    /// <summary>μ, momentum on the scaled step; 0 for none.</summary>
    public double Momentum { get; }

    /// <inheritdoc/>
    protected override void Update(Span<T> value, ReadOnlySpan<T> gradient, int parameterIndex)
    {
        var s = StateOf(parameterIndex, 0);
        var buf = StateOf(parameterIndex, 1);
        T alpha = T.CreateChecked(Alpha), oneMinusAlpha = T.One - alpha;
        T epsilon = T.CreateChecked(Epsilon), mu = T.CreateChecked(Momentum), lr = T.CreateChecked(RateOf(parameterIndex));
        bool momentum = Momentum > 0;
        for (int j = 0; j < value.Length; j++)
        {
            T g = gradient[j];
            T sj = alpha * s[j] + oneMinusAlpha * g * g;
            s[j] = sj;
            T scaled = g / (T.Sqrt(sj) + epsilon);
            if (momentum)
            {
                buf[j] = mu * buf[j] + scaled;
                scaled = buf[j];
            }
            value[j] -= lr * scaled;
        }
    }
}
