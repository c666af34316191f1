using ILGPU;
using ILGPU.Algorithms;

namespace ScratchNet.Gpu.Kernels;

/// <summary>
/// The activations inside the kernels, by <see cref="Backends.DeviceActivation"/> number (kernels take plain
/// ints). The derivative is written in terms of the activation's output, which is what a layer keeps.
/// </summary>
/// <remarks>
/// Constants are float literals on purpose: ILGPU 1.5.3's PTX backend turned <c>c ? 1 : 0</c> converted to
/// float into the bit patterns of the integers (1 became 1.4e−45), which the GPU parity check caught on an
/// H200 and the CPU simulator cannot show.
/// </remarks>
internal static class Activations
{
    public static float Apply(int activation, float z) => activation switch
    {
        1 => z > 0f ? z : 0f,
        2 => 1f / (1f + XMath.Exp(-z)),
        3 => XMath.Tanh(z),
        _ => z,
    };

    public static float Derivative(int activation, float a) => activation switch
    {
        1 => a > 0f ? 1f : 0f,
        2 => a * (1f - a),
        3 => 1f - a * a,
        _ => 1f,
    };
}

/// <summary>Warp-wide reductions by butterfly shuffles: every lane ends with the same, order-fixed result.</summary>
internal static class WarpMath
{
    public static float Sum(float value)
    {
        for (int offset = Warp.WarpSize / 2; offset > 0; offset /= 2) value += Warp.ShuffleXor(value, offset);
        return value;
    }

    public static float Max(float value)
    {
        for (int offset = Warp.WarpSize / 2; offset > 0; offset /= 2) value = XMath.Max(value, Warp.ShuffleXor(value, offset));
        return value;
    }

    /// <summary>The index of the largest value across the warp, the lowest index among equals.</summary>
    public static int ArgMax(float value, int index)
    {
        for (int offset = Warp.WarpSize / 2; offset > 0; offset /= 2)
        {
            float otherValue = Warp.ShuffleXor(value, offset);
            int otherIndex = Warp.ShuffleXor(index, offset);
            if (otherValue > value || (otherValue == value && otherIndex < index))
            {
                value = otherValue;
                index = otherIndex;
            }
        }
        return index;
    }
}
