using System.Numerics;
using ScratchNet.Compute;
using ScratchNet.Layers;

namespace ScratchNet.Optimizers;

/// <summary>
/// One plain-SGD step with the L2 penalty, applied by each layer as its backward pass finishes (see
/// <see cref="Layer{T}.BackwardAndStep"/>), so that gradients are consumed while they are hot and a
/// layer can fuse its gradient and its update into one pass over the weights.
/// </summary>
internal sealed class SgdStep<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Sets the step's learning rate and penalty factor λ and whether updates may be deferred, and clears <see cref="SquaredWeights"/>.</summary>
    public void Begin(double learningRate, double regularizationFactor, bool mayDefer)
    {
        MayDefer = mayDefer;
        LearningRate = T.CreateChecked(learningRate);
        RegularizedKeep = T.CreateChecked(1 - 2 * learningRate * regularizationFactor);
        SquaredWeights = 0;
    }

    /// <summary>
    /// Whether a layer may leave its weight update for its next forward pass to apply in the same sweep over the
    /// weights (a first linear layer at batch 1): only inside a run of steps whose owner finishes the deferred
    /// updates before anything reads the weights (<see cref="Training.Trainer{T}"/>'s epochs).
    /// </summary>
    public bool MayDefer { get; private set; }

    /// <summary>The step size.</summary>
    public T LearningRate { get; private set; }

    /// <summary>1 − 2·lr·λ: the factor a regularised weight keeps, the penalty's gradient folded in.</summary>
    public T RegularizedKeep { get; private set; }

    /// <summary>Σ w² of the regularised weights before they were updated, summed over the step so far.</summary>
    public double SquaredWeights { get; private set; }

    /// <summary>The factor <paramref name="parameter"/> keeps per step.</summary>
    public T Keep(Parameter<T> parameter) => parameter.Regularized ? RegularizedKeep : T.One;

    /// <summary>p ← keep·p − lr·dp, then dp ← 0, in one pass; a <see cref="Parameter{T}.Frozen"/> parameter keeps p.</summary>
    public void Apply(Parameter<T> parameter)
    {
        if (parameter.Frozen)
        {
            if (parameter.Regularized) SquaredWeights += double.CreateChecked(System.Numerics.Tensors.TensorPrimitives.SumOfSquares<T>(parameter.Value.Span));
            parameter.ZeroGradient();
            return;
        }
        AddSquares(parameter, SgdKernels.Update(parameter.Value.Span, parameter.Gradient.Span, LearningRate, Keep(parameter)));
    }

    /// <summary>Counts Σ w² that a layer's fused kernel measured for <paramref name="parameter"/> (ignored unless it is regularised).</summary>
    public void AddSquares(Parameter<T> parameter, double squares)
    {
        if (parameter.Regularized) SquaredWeights += squares;
    }
}
