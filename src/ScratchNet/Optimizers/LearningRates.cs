using System.Numerics;

namespace ScratchNet.Optimizers;

/// <summary>Reads and sets the learning rate of the optimisers the library provides, wrapped or not.</summary>
public static class LearningRates
{
    /// <summary>The rate <paramref name="optimizer"/> steps with.</summary>
    /// <exception cref="NotSupportedException">An optimiser type without a known learning rate.</exception>
    public static double Get<T>(IOptimizer<T> optimizer) where T : unmanaged, IFloatingPointIeee754<T> => optimizer switch
    {
        Sgd<T> sgd => sgd.LearningRate,
        StatefulOptimizer<T> stateful => stateful.LearningRate,
        ClippedOptimizer<T> clipped => Get(clipped.Inner),
        _ => throw Unknown(optimizer),
    };

    /// <summary>Sets the rate of <paramref name="optimizer"/> (of its inner optimiser when clipped).</summary>
    /// <exception cref="NotSupportedException">An optimiser type without a known learning rate.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The rate is not finite and &gt; 0.</exception>
    public static void Set<T>(IOptimizer<T> optimizer, double rate) where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (optimizer)
        {
            case Sgd<T> sgd: sgd.LearningRate = rate; break;
            case StatefulOptimizer<T> stateful: stateful.LearningRate = rate; break;
            case ClippedOptimizer<T> clipped: Set(clipped.Inner, rate); break;
            default: throw Unknown(optimizer);
        }
    }

    /// <summary>The rate <paramref name="optimizer"/> steps with, or NaN for an optimiser type without a known one.</summary>
    internal static double GetOrNaN<T>(IOptimizer<T> optimizer) where T : unmanaged, IFloatingPointIeee754<T> => optimizer switch
    {
        Sgd<T> sgd => sgd.LearningRate,
        StatefulOptimizer<T> stateful => stateful.LearningRate,
        ClippedOptimizer<T> clipped => GetOrNaN(clipped.Inner),
        _ => double.NaN,
    };

    /// <summary>The optimiser that keeps state, unwrapping clipping; null for plain SGD.</summary>
    internal static StatefulOptimizer<T>? StatefulOf<T>(IOptimizer<T> optimizer) where T : unmanaged, IFloatingPointIeee754<T> => optimizer switch
    {
        StatefulOptimizer<T> stateful => stateful,
        ClippedOptimizer<T> clipped => StatefulOf(clipped.Inner),
        _ => null,
    };

    private static NotSupportedException Unknown<T>(IOptimizer<T> optimizer) where T : unmanaged, IFloatingPointIeee754<T> =>
        new($"{optimizer.GetType().Name} has no learning rate the trainer knows how to read or set (schedules and checkpoints need Sgd, a StatefulOptimizer, or a ClippedOptimizer around one).");
}
