using System.Numerics;
using System.Numerics.Tensors;

namespace ScratchNet.Data.Augmentation;

/// <summary>Which views test-time augmentation averages.</summary>
public enum TtaMode
{
    /// <summary>The image alone.</summary>
    None,

    /// <summary>The image and its mirror image, ½ each (airbench's level 1).</summary>
    Flip,

    /// <summary>
    /// airbench's level 2: ½ · (the image and its mirror, ½ each) + ½ · the same pair for the image shifted by one
    /// pixel up-left and by one down-right (reflect-padded), ¼ each: six views.
    /// </summary>
    FlipTranslate,
}

/// <summary>
/// Test-time augmentation: the network's outputs (probabilities, for cross-entropy) averaged over fixed views of
/// each image, as airbench's <c>infer_mirror</c> / <c>infer_mirror_translate</c> average its logits.
/// </summary>
public static class TestTimeAugmentation
{
    private const int Chunk = 1024;

    /// <summary>The views of <paramref name="mode"/> with their weights (summing to 1).</summary>
    public static IReadOnlyList<(ImageView View, double Weight)> Views(TtaMode mode) => mode switch
    {
        TtaMode.None => [(ImageView.Identity, 1.0)],
        TtaMode.Flip => [(ImageView.Identity, 0.5), (new ImageView(0, 0, true), 0.5)],
        TtaMode.FlipTranslate =>
        [
            (ImageView.Identity, 0.25), (new ImageView(0, 0, true), 0.25),
            (new ImageView(-1, -1, false), 0.125), (new ImageView(-1, -1, true), 0.125),
            (new ImageView(1, 1, false), 0.125), (new ImageView(1, 1, true), 0.125),
        ],
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown test-time augmentation."),
    };

    /// <summary>The averaged outputs, (rows, network outputs), of the images <paramref name="rows"/> of <paramref name="images"/>.</summary>
    /// <exception cref="ShapeMismatchException">The images do not fit the network.</exception>
    public static Matrix<T> Predict<T>(Network<T> network, AugmentedImages<T> images, ReadOnlySpan<int> rows, TtaMode mode)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        network.CheckSource(images);
        var views = Views(mode);
        var result = new Matrix<T>(rows.Length, network.Outputs);
        var x = new Matrix<T>(0, images.FeatureCount);
        var y = new Matrix<T>(0, images.TargetCount);
        for (int start = 0; start < rows.Length; start += Chunk)
        {
            var chunk = rows.Slice(start, Math.Min(Chunk, rows.Length - start));
            var into = result.Span.Slice(start * network.Outputs, chunk.Length * network.Outputs);
            foreach (var (view, weight) in views)
            {
                images.GatherView(chunk, view, x, y);
                // into += weight · outputs, view by view in a fixed order: the same sums on any thread count.
                TensorPrimitives.MultiplyAdd(network.Predict(x).Span, T.CreateChecked(weight), into, into);
            }
        }
        return result;
    }

    /// <summary>
    /// Accuracy (argmax of the averaged outputs against the label) and loss of the averaged outputs over
    /// <paramref name="rows"/>: for cross-entropy −log p̄(label), for L2 Σ (ȳ − y)², batch-averaged; the L2 penalty added
    /// as <see cref="Network{T}.Evaluate(ISampleSource{T}, ReadOnlySpan{int})"/> does.
    /// </summary>
    public static (double Loss, double Accuracy) Evaluate<T>(Network<T> network, AugmentedImages<T> images, ReadOnlySpan<int> rows, TtaMode mode)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (rows.Length == 0) return (double.NaN, double.NaN);
        var outputs = Predict(network, images, rows, mode);
        double loss = 0;
        long correct = 0;
        for (int i = 0; i < rows.Length; i++)
        {
            var p = outputs.Row(i);
            int label = images.ClassOf(rows[i]);
            if (TensorPrimitives.IndexOfMax<T>(p) == label) correct++;
            if (network.Loss == Losses.Loss.CrossEntropy)
            {
                loss -= Math.Log(double.CreateChecked(p[label]));
            }
            else
            {
                for (int k = 0; k < p.Length; k++)
                {
                    double e = double.CreateChecked(p[k]) - (k == label ? 1 : 0);
                    loss += e * e;
                }
            }
        }
        return (loss / rows.Length + network.RegularizationPenalty(), (double)correct / rows.Length);
    }
}
