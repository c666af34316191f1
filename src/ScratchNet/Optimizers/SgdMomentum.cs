using System.Numerics;

namespace ScratchNet.Optimizers;

/// <summary>
/// SGD with momentum, as <c>torch.optim.SGD(momentum=μ, nesterov=…)</c>: buf ← μ·buf + g, then
/// p ← p − lr·buf, or with Nesterov p ← p − lr·(g + μ·buf). One state tensor per parameter: buf.
/// </summary>
public sealed class SgdMomentum<T> : StatefulOptimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the optimiser.</summary>
    /// <param name="learningRate">Step size, &gt; 0.</param>
    /// <param name="momentum">μ, in [0, 1).</param>
    /// <param name="nesterov">Whether to use Nesterov's look-ahead, g + μ·buf.</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range.</exception>
    public SgdMomentum(double learningRate, double momentum = 0.9, bool nesterov = false) : base(learningRate, 1)
    {
        Momentum = momentum is >= 0 and < 1 ? momentum : throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "Momentum must be in [0, 1).");
        Nesterov = nesterov;
    }

    /// <summary>μ, the fraction of the previous velocity kept.</summary>
    public double Momentum { get; }

    /// <summary>Whether the step uses g + μ·buf rather than buf.</summary>
    public bool Nesterov { get; }

    /// <inheritdoc/>
    protected override void Update(Span<T> value, ReadOnlySpan<T> gradient, int parameterIndex)
    {
        var buf = StateOf(parameterIndex, 0);
        T mu = T.CreateChecked(Momentum), lr = T.CreateChecked(LearningRate);
        for (int j = 0; j < value.Length; j++)
        {
            T g = gradient[j];
            T b = mu * buf[j] + g;   // buf starts at 0, so the first step gives buf = g, as torch's clone
            buf[j] = b;
            value[j] -= lr * (Nesterov ? g + mu * b : b);
        }
    }
}
