using System.Numerics;
using System.Numerics.Tensors;
using ScratchNet.Layers;

namespace ScratchNet.Optimizers;

/// <summary>Plain stochastic gradient descent, p ← p − learningRate · dL/dp, as in the report.</summary>
public sealed class Sgd<T>(double learningRate) : IOptimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private double _learningRate = Checked(learningRate, nameof(learningRate));

    /// <summary>The step size; a schedule may change it between steps.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not finite and &gt; 0.</exception>
    public double LearningRate
    {
        get => _learningRate;
        set => _learningRate = Checked(value, nameof(value));
    }

    /// <inheritdoc/>
    public void Step(IReadOnlyList<Parameter<T>> parameters)
    {
        for (int i = 0; i < parameters.Count; i++)   // not foreach: an interface enumerator allocates
        {
            if (parameters[i].Frozen) continue;
            T negativeRate = T.CreateChecked(-LearningRate * parameters[i].LearningRateScale);
            TensorPrimitives.MultiplyAdd(parameters[i].Gradient.Span, negativeRate, parameters[i].Value.Span, parameters[i].Value.Span);
        }
    }

    private static double Checked(double learningRate, string name) => learningRate > 0 && double.IsFinite(learningRate)
        ? learningRate
        : throw new ArgumentOutOfRangeException(name, learningRate, "The learning rate must be finite and > 0.");
}
