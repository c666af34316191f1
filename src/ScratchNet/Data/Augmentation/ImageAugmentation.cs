namespace ScratchNet.Data.Augmentation;

/// <summary>How training images are mirrored left to right.</summary>
public enum FlipMode
{
    /// <summary>Never.</summary>
    None,

    /// <summary>Each image, each epoch, with probability ½ (torchvision's <c>RandomHorizontalFlip</c>).</summary>
    Random,

    /// <summary>
    /// airbench's alternating flip: in epoch 0 each image is flipped with probability ½; from then on each image is
    /// flipped in every other epoch (epoch e flips image i when its epoch-0 choice XOR (e odd)), so that every two
    /// epochs show both orientations of every image exactly once.
    /// </summary>
    Alternating,
}

/// <summary>
/// The random transforms applied to a training image when its batch is gathered, CIFAR style (the
/// images are (channels, height, width) planes): a random crop of the image padded by reflection,
/// a horizontal flip, and cutout. Evaluation batches are never augmented.
/// </summary>
/// <param name="CropPadding">p ≥ 0: the image is padded by p pixels on each side by reflection (PyTorch's
/// <c>reflect</c>: the edge pixel is not repeated) and a random window of the original size is cut out, i.e. a
/// translation by (dy, dx) uniform in [−p, p]². 0: no crop. Below the image's side.</param>
/// <param name="Flip">How images are mirrored.</param>
/// <param name="Cutout">c ≥ 0: a c×c square (centred on a uniform pixel, clipped at the borders) is set to 0
/// after normalisation (the channel mean when normalised). 0: none.</param>
public sealed record ImageAugmentation(int CropPadding = 0, FlipMode Flip = FlipMode.None, int Cutout = 0)
{
    /// <summary>No augmentation at all.</summary>
    public static ImageAugmentation None { get; } = new();

    /// <summary>Whether any transform is on.</summary>
    public bool IsIdentity => CropPadding == 0 && Flip == FlipMode.None && Cutout == 0;

    /// <summary>Checks the settings against an image of <paramref name="height"/> × <paramref name="width"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is negative, the padding is not below both sides, or the cutout is larger than the image.</exception>
    public void Validate(int height, int width)
    {
        if (CropPadding < 0 || CropPadding >= Math.Min(height, width))
            throw new ArgumentOutOfRangeException(nameof(CropPadding), CropPadding, $"The crop padding must be in [0, {Math.Min(height, width) - 1}] for {height}×{width} images (reflection needs a pixel to mirror).");
        if (!Enum.IsDefined(Flip)) throw new ArgumentOutOfRangeException(nameof(Flip), Flip, "Unknown flip mode.");
        if (Cutout < 0 || Cutout > Math.Max(height, width))
            throw new ArgumentOutOfRangeException(nameof(Cutout), Cutout, $"The cutout size must be in [0, {Math.Max(height, width)}] for {height}×{width} images.");
    }
}

/// <summary>
/// One fixed view of an image: out(c, y, x) = in(c, R(y + dy), R(x' + dx)) with x' = W − 1 − x when
/// <paramref name="Flip"/> (else x) and R reflecting an index back into the image. The training
/// augmentation draws a view per image; test-time augmentation averages over a few fixed ones.
/// </summary>
/// <param name="Dy">Rows to shift by (the view starts that many rows further down the padded image).</param>
/// <param name="Dx">Columns to shift by.</param>
/// <param name="Flip">Mirror left to right before shifting.</param>
public readonly record struct ImageView(int Dy, int Dx, bool Flip)
{
    /// <summary>The image as it is.</summary>
    public static ImageView Identity => default;
}

/// <summary>
/// Per-channel normalisation: value = (pixel / 255 − mean[c]) / std[c], mean and std in the units of
/// pixel / 255 (torchvision's <c>Normalize</c> after <c>ToTensor</c>).
/// </summary>
public sealed class ChannelNormalization
{
    /// <summary>The means and standard deviations of CIFAR-10's training images (airbench's constants).</summary>
    public static ChannelNormalization Cifar10 { get; } = new([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]);

    /// <summary>Normalises with the given per-channel means and standard deviations.</summary>
    /// <exception cref="ArgumentException">The lists differ in length or are empty, a mean is not finite, or a deviation is not finite and &gt; 0.</exception>
    public ChannelNormalization(IReadOnlyList<double> mean, IReadOnlyList<double> std)
    {
        if (mean.Count == 0 || mean.Count != std.Count)
            throw new ArgumentException($"Give one mean and one standard deviation per channel; got {mean.Count} means and {std.Count} deviations.", nameof(std));
        if (mean.Any(m => !double.IsFinite(m))) throw new ArgumentException("Every mean must be finite.", nameof(mean));
        if (std.Any(s => !(s > 0 && double.IsFinite(s)))) throw new ArgumentException("Every standard deviation must be finite and > 0.", nameof(std));
        Mean = [.. mean];
        Std = [.. std];
    }

    /// <summary>Per-channel means of pixel / 255.</summary>
    public IReadOnlyList<double> Mean { get; }

    /// <summary>Per-channel standard deviations of pixel / 255.</summary>
    public IReadOnlyList<double> Std { get; }

    /// <summary>Channels covered.</summary>
    public int Channels => Mean.Count;

    /// <summary>
    /// The mean and (population) standard deviation of each channel of <paramref name="images"/>' pixels / 255,
    /// over the images <paramref name="rows"/> (all when null): what a run normalises with when told to measure.
    /// </summary>
    public static ChannelNormalization Measure(ImageSet images, IReadOnlyList<int>? rows = null)
    {
        int channels = images.Channels, plane = images.Height * images.Width;
        var sum = new long[channels];
        var squares = new double[channels];
        int count = rows?.Count ?? images.Count;
        for (int i = 0; i < count; i++)
        {
            int image = rows is null ? i : rows[i];
            var pixels = images.Pixels.AsSpan(checked(image * images.FeatureCount), images.FeatureCount);
            for (int c = 0; c < channels; c++)
            {
                long s = 0, q = 0;
                foreach (byte b in pixels.Slice(c * plane, plane))
                {
                    s += b;
                    q += b * b;
                }
                sum[c] += s;
                squares[c] += q;
            }
        }
        double n = (double)count * plane;
        var mean = new double[channels];
        var std = new double[channels];
        for (int c = 0; c < channels; c++)
        {
            mean[c] = sum[c] / n / 255;
            double variance = squares[c] / n / (255.0 * 255) - mean[c] * mean[c];
            std[c] = Math.Sqrt(Math.Max(variance, 0));
            if (!(std[c] > 0)) std[c] = 1;   // a constant channel: only shift it
        }
        return new ChannelNormalization(mean, std);
    }
}
