using System.Numerics;

namespace ScratchNet.Data;

/// <summary>
/// Labelled images kept as bytes, as the IDX and CIFAR files store them: one byte per pixel and
/// channel, one byte per label. Fashion-MNIST's 60,000 training images take 47 MB this way instead of
/// 188 MB as float32; <see cref="AsSamples{T}"/> converts only the rows of each batch.
/// </summary>
public sealed class ImageSet
{
    /// <summary>Wraps <paramref name="pixels"/> and <paramref name="labels"/> (not copied).</summary>
    /// <param name="name">A short name, e.g. "fashion-mnist".</param>
    /// <param name="height">Rows of pixels per image.</param>
    /// <param name="width">Columns of pixels per image.</param>
    /// <param name="channels">1 for grey, 3 for colour.</param>
    /// <param name="pixels">(images, features) row-major, features = height × width × channels in the file's order (CIFAR: the red plane, then green, then blue).</param>
    /// <param name="labels">One class index per image.</param>
    /// <param name="classes">Number of classes; every label is below it.</param>
    /// <exception cref="ArgumentException">The sizes disagree or a label is out of range.</exception>
    public ImageSet(string name, int height, int width, int channels, byte[] pixels, byte[] labels, int classes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        long features = (long)height * width * channels;
        if (features > int.MaxValue || pixels.LongLength != labels.LongLength * features)
            throw new ArgumentException($"{labels.Length} images of {height}×{width}×{channels} need {labels.LongLength * features} pixel bytes, got {pixels.LongLength}.", nameof(pixels));
        if (classes <= byte.MaxValue && labels.AsSpan().IndexOfAnyInRange((byte)classes, byte.MaxValue) is var bad and >= 0)
            throw new ArgumentException($"Label {labels[bad]} of image {bad} is outside [0, {classes}).", nameof(labels));
        Name = name;
        Height = height;
        Width = width;
        Channels = channels;
        Pixels = pixels;
        Labels = labels;
        Classes = classes;
    }

    /// <summary>A short name, e.g. "fashion-mnist".</summary>
    public string Name { get; }

    /// <summary>Rows of pixels per image.</summary>
    public int Height { get; }

    /// <summary>Columns of pixels per image.</summary>
    public int Width { get; }

    /// <summary>Channels per pixel: 1 (grey) or 3 (colour).</summary>
    public int Channels { get; }

    /// <summary>Number of classes.</summary>
    public int Classes { get; }

    /// <summary>Number of images.</summary>
    public int Count => Labels.Length;

    /// <summary>Bytes per image: height × width × channels.</summary>
    public int FeatureCount => Height * Width * Channels;

    /// <summary>All pixels, (images, <see cref="FeatureCount"/>) row-major, 0..255.</summary>
    public byte[] Pixels { get; }

    /// <summary>The class of each image.</summary>
    public byte[] Labels { get; }

    /// <summary>Memory held by the pixels and labels, in bytes.</summary>
    public long ByteSize => Pixels.LongLength + Labels.LongLength;

    /// <summary>A sample source over these images: features pixel / 255 in [0, 1], one-hot targets.</summary>
    public ImageSamples<T> AsSamples<T>() where T : unmanaged, IFloatingPointIeee754<T> => new(this);

    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {Count} images {Height}×{Width}×{Channels}, {Classes} classes";
}
