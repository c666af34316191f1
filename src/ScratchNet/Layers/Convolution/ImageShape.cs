namespace ScratchNet.Layers;

/// <summary>The (C, H, W) reading of a sample shape that the image layers share, with their argument checks.</summary>
internal static class ImageShape
{
    /// <summary>Channels, height and width of <paramref name="shape"/>, which must have three dimensions.</summary>
    /// <exception cref="ArgumentException">The shape is not (C, H, W).</exception>
    public static (int Channels, int Height, int Width) Of(Shape shape, string layer) =>
        shape.Rank == 3 ? (shape[0], shape[1], shape[2])
            : throw new ArgumentException($"A {layer} layer reads (channels, height, width) samples, not samples of shape {shape}.", nameof(shape));

    /// <summary>Throws unless <paramref name="value"/> is in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static int InRange(int value, int min, int max, string name) =>
        value >= min && value <= max ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be in [{min}, {max}].");

    /// <summary>
    /// The output length along one axis, which must be at least 1: ⌊(size + before + after − kernel) / stride⌋ + 1.
    /// </summary>
    /// <exception cref="ArgumentException">The kernel does not fit the padded input.</exception>
    public static int OutputLength(int size, int kernel, int stride, int before, int after, string axis)
    {
        long length = Compute.ConvGeometry.OutputLength(size, kernel, stride, before, after);
        return length is >= 1 and <= int.MaxValue ? (int)length
            : throw new ArgumentException($"A kernel of {kernel} does not fit an input {axis} of {size} padded by {before} + {after}.");
    }

    /// <summary>The largest kernel, stride or padding a layer accepts: larger ones are not images (and a lying file must not size a buffer by them).</summary>
    public const int MaxExtent = 1 << 16;
}
