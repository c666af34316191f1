namespace ScratchNet.Layers;

/// <summary>
/// How <see cref="Network{T}.AddLinear(int, Init, bool, bool)"/> draws a linear layer's weights (biases start at
/// zero). fan_in and fan_out are the layer's input and output widths; draws come from the network's
/// seeded generator, row by row, so a seed fixes them.
/// </summary>
public enum Init
{
    /// <summary>Glorot and Bengio (2010), normal: N(0, 2 / (fan_in + fan_out)); <c>torch.nn.init.xavier_normal_</c>.</summary>
    XavierNormal,

    /// <summary>Glorot and Bengio (2010), uniform: U(−a, a), a = √(6 / (fan_in + fan_out)); <c>torch.nn.init.xavier_uniform_</c>.</summary>
    XavierUniform,

    /// <summary>He et al. (2015), normal: N(0, 2 / fan_in), for ReLU networks; <c>torch.nn.init.kaiming_normal_</c> (fan_in, relu).</summary>
    HeNormal,

    /// <summary>He et al. (2015), uniform: U(−a, a), a = √(6 / fan_in); <c>torch.nn.init.kaiming_uniform_</c> (fan_in, relu).</summary>
    HeUniform,

    /// <summary>
    /// PyTorch's default for <c>nn.Linear</c> and <c>nn.Conv2d</c> weights: U(−a, a), a = 1/√fan_in (<c>kaiming_uniform_</c> with
    /// a = √5), √6 times smaller than <see cref="HeUniform"/>. Behind batch norm a weight's scale sets its effective learning
    /// rate (the layer's output does not change with it, its gradient shrinks as 1/scale): recipes tuned in PyTorch, as
    /// airbench's, assume this one.
    /// </summary>
    TorchDefault,
}

/// <summary>The scales behind each <see cref="Init"/>.</summary>
public static class Initializers
{
    /// <summary>Standard deviation of the weights <paramref name="init"/> draws for a (fanOut, fanIn) layer (uniform ones included: a/√3).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A fan is not positive, or <paramref name="init"/> is not a defined value.</exception>
    public static double StandardDeviation(Init init, int fanIn, int fanOut)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(fanIn);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(fanOut);
        return init switch
        {
            Init.XavierNormal or Init.XavierUniform => Math.Sqrt(2.0 / (fanIn + fanOut)),
            Init.HeNormal or Init.HeUniform => Math.Sqrt(2.0 / fanIn),
            Init.TorchDefault => Math.Sqrt(1.0 / (3.0 * fanIn)),
            _ => throw new ArgumentOutOfRangeException(nameof(init), init, "Unknown initialiser."),
        };
    }

    /// <summary>Whether <paramref name="init"/> draws from a uniform distribution (else a normal one).</summary>
    public static bool IsUniform(Init init) => init is Init.XavierUniform or Init.HeUniform or Init.TorchDefault;

    /// <summary>Fills <paramref name="weights"/> with draws from <paramref name="rng"/>: N(0, σ²) or U(−σ√3, σ√3), σ from <see cref="StandardDeviation"/>.</summary>
    public static void Fill<T>(Span<T> weights, Init init, int fanIn, int fanOut, Rng rng) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        double std = StandardDeviation(init, fanIn, fanOut);
        if (IsUniform(init))
        {
            double bound = std * Math.Sqrt(3);
            foreach (ref T w in weights) w = T.CreateChecked(bound * (2 * rng.NextDouble() - 1));
        }
        else
        {
            foreach (ref T w in weights) w = T.CreateChecked(std * rng.NextNormal());
        }
    }
}
