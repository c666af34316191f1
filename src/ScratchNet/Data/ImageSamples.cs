using System.Numerics;

namespace ScratchNet.Data;

/// <summary>
/// An <see cref="ImageSet"/> seen as training samples: the bytes stay as they are and only the rows
/// of a batch are converted, features to pixel / 255 in [0, 1] (torchvision's <c>ToTensor</c>, as the
/// report loaded them) and labels to one-hot targets.
/// </summary>
public sealed class ImageSamples<T> : ISampleSource<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    // pixel / 255 computed in T, so float32 features equal torchvision's float32 division bit for bit.
    private static readonly T[] Scaled = Enumerable.Range(0, 256).Select(b => T.CreateChecked(b) / T.CreateChecked(255)).ToArray();

    /// <summary>Views <paramref name="images"/> as samples.</summary>
    public ImageSamples(ImageSet images) => Images = images;

    /// <summary>The images underneath.</summary>
    public ImageSet Images { get; }

    /// <inheritdoc/>
    public int Count => Images.Count;

    /// <inheritdoc/>
    public int FeatureCount => Images.FeatureCount;

    /// <inheritdoc/>
    public int TargetCount => Images.Classes;

    /// <inheritdoc/>
    public void Gather(ReadOnlySpan<int> rows, Matrix<T> features, Matrix<T> targets)
    {
        int width = FeatureCount;
        features.RequireCols(width, "Gathered features");
        targets.RequireCols(TargetCount, "Gathered targets");
        features.SetRows(rows.Length);
        targets.SetRows(rows.Length);
        targets.Span.Clear();
        var pixels = Images.Pixels.AsSpan();
        for (int i = 0; i < rows.Length; i++)
        {
            var source = pixels.Slice(checked(rows[i] * width), width);
            var destination = features.Row(i);
            for (int j = 0; j < source.Length; j++) destination[j] = Scaled[source[j]];
            targets[i, Images.Labels[rows[i]]] = T.One;
        }
    }

    /// <inheritdoc/>
    public int ClassOf(int row) => Images.Labels[row];
}
