using System.Numerics;

namespace ScratchNet.Optimizers;

/// <summary>
/// Adam, as <c>torch.optim.Adam</c> (no AMSGrad, no weight decay): m ← β₁·m + (1 − β₁)·g,
/// v ← β₂·v + (1 − β₂)·g², then p ← p − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε), t = <see cref="StatefulOptimizer{T}.StepCount"/>.
/// Two state tensors per parameter: m, then v.
/// </summary>
/// <remarks>The network's L2 penalty, when set, is already in the gradient (coupled); for decoupled decay use <see cref="AdamW{T}"/>.</remarks>
public class Adam<T> : StatefulOptimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private T _stepSize, _correction2Root;

    /// <summary>Creates the optimiser.</summary>
    /// <param name="learningRate">Step size, &gt; 0.</param>
    /// <param name="beta1">β₁, decay of the first moment, in [0, 1).</param>
    /// <param name="beta2">β₂, decay of the second moment, in [0, 1).</param>
    /// <param name="epsilon">ε, added to the denominator, &gt; 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range.</exception>
    public Adam(double learningRate = 0.001, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8) : base(learningRate, 2)
    {
        Beta1 = beta1 is >= 0 and < 1 ? beta1 : throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "β₁ must be in [0, 1).");
        Beta2 = beta2 is >= 0 and < 1 ? beta2 : throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "β₂ must be in [0, 1).");
        Epsilon = epsilon > 0 && double.IsFinite(epsilon) ? epsilon : throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "ε must be finite and > 0.");
    }

    /// <summary>β₁, decay of the first-moment estimate.</summary>
    public double Beta1 { get; }

    /// <summary>β₂, decay of the second-moment estimate.</summary>
    public double Beta2 { get; }

    /// <summary>ε, keeps the denominator away from zero.</summary>
    public double Epsilon { get; }

    /// <inheritdoc/>
    protected override void BeginStep()
    {
        // Bias corrections in double, as torch computes them in Python floats.
        _stepSize = T.CreateChecked(LearningRate / (1 - Math.Pow(Beta1, StepCount)));
        _correction2Root = T.CreateChecked(Math.Sqrt(1 - Math.Pow(Beta2, StepCount)));
    }

    /// <summary>Runs before the moment update of each parameter; AdamW decays the weights here.</summary>
    protected virtual void BeforeUpdate(Span<T> value, int parameterIndex) { }

    /// <inheritdoc/>
    protected sealed override void Update(Span<T> value, ReadOnlySpan<T> gradient, int parameterIndex)
    {
        BeforeUpdate(value, parameterIndex);
        T stepSize = ScaleOf(parameterIndex) == 1 ? _stepSize : _stepSize * T.CreateChecked(ScaleOf(parameterIndex));
        var m = StateOf(parameterIndex, 0);
        var v = StateOf(parameterIndex, 1);
        T beta1 = T.CreateChecked(Beta1), beta2 = T.CreateChecked(Beta2), epsilon = T.CreateChecked(Epsilon);
        T oneMinusBeta1 = T.One - beta1, oneMinusBeta2 = T.One - beta2;
        for (int j = 0; j < value.Length; j++)
        {
            T g = gradient[j];
            T mj = beta1 * m[j] + oneMinusBeta1 * g;
            T vj = beta2 * v[j] + oneMinusBeta2 * g * g;
            m[j] = mj;
            v[j] = vj;
            value[j] -= stepSize * mj / (T.Sqrt(vj) / _correction2Root + epsilon);
        }
    }
}
