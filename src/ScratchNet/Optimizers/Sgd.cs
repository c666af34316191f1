using System.Numerics;
using System.Numerics.Tensors;
using ScratchNet.Layers;

namespace ScratchNet.Optimizers;

/// <summary>Plain stochastic gradient descent, p ← p − learningRate · dL/dp, as in the report.</summary>
public sealed class Sgd<T>(double learningRate) : IOptimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The step size.</summary>
    public double LearningRate { get; } = learningRate > 0 && double.IsFinite(learningRate)
        ? learningRate
        : throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "The learning rate must be finite and > 0.");

    /// <inheritdoc/>
    public void Step(IReadOnlyList<Parameter<T>> parameters)
    {
        T negativeRate = T.CreateChecked(-LearningRate);
        for (int i = 0; i < parameters.Count; i++)   // not foreach: an interface enumerator allocates
            TensorPrimitives.MultiplyAdd(parameters[i].Gradient.Span, negativeRate, parameters[i].Value.Span, parameters[i].Value.Span);
    }
}
