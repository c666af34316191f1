using System.Numerics;

namespace ScratchNet.Data.Augmentation;

/// <summary>
/// An <see cref="ImageSet"/> of (channels, height, width) images seen as samples, with per-channel normalisation
/// and, for training batches only, <see cref="ImageAugmentation"/>. The pixels stay bytes: each gathered pixel is
/// read once, through a per-channel table of its 256 normalised values, straight into the batch.
/// Training batches are random per (seed, epoch, image): the same seed gives the same batches on any thread
/// count and after a resume, and each epoch draws afresh. A warm gather allocates nothing. Not thread-safe.
/// </summary>
public sealed class AugmentedImages<T> : ITrainingSamples<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] _table;        // (channels, 256): the value of byte b in channel c at [c · 256 + b]
    private readonly int[] _columns;    // (width): the source column of each output column, for one image's view
    private readonly int[] _rowsFrom;   // (height): the source row of each output row
    private readonly ulong _seed;

    /// <summary>Views <paramref name="images"/> as samples.</summary>
    /// <param name="images">The images, (channels, height, width) per row.</param>
    /// <param name="augmentation">What training batches get; <see cref="ImageAugmentation.None"/> for none.</param>
    /// <param name="normalization">Per-channel mean and deviation; null: pixel / 255, as <see cref="ImageSamples{T}"/>.</param>
    /// <param name="seed">Seeds every random choice of the augmentation.</param>
    /// <exception cref="ArgumentException">The normalisation's channels differ from the images', or the augmentation does not fit them.</exception>
    public AugmentedImages(ImageSet images, ImageAugmentation? augmentation = null, ChannelNormalization? normalization = null, ulong seed = 0)
    {
        Images = images;
        Augmentation = augmentation ?? ImageAugmentation.None;
        Augmentation.Validate(images.Height, images.Width);
        if (normalization is not null && normalization.Channels != images.Channels)
            throw new ArgumentException($"The normalisation covers {normalization.Channels} channels, the images have {images.Channels}.", nameof(normalization));
        Normalization = normalization;
        _seed = seed;
        _table = new T[images.Channels * 256];
        for (int c = 0; c < images.Channels; c++)
            for (int b = 0; b < 256; b++)
                // Without normalisation, pixel / 255 in T, as ImageSamples: the same features bit for bit.
                _table[c * 256 + b] = normalization is null
                    ? T.CreateChecked(b) / T.CreateChecked(255)
                    : T.CreateChecked((b / 255.0 - normalization.Mean[c]) / normalization.Std[c]);
        _columns = new int[images.Width];
        _rowsFrom = new int[images.Height];
    }

    /// <summary>The images underneath.</summary>
    public ImageSet Images { get; }

    /// <summary>What training batches get.</summary>
    public ImageAugmentation Augmentation { get; }

    /// <summary>The per-channel normalisation, or null for pixel / 255.</summary>
    public ChannelNormalization? Normalization { get; }

    /// <inheritdoc/>
    public int Count => Images.Count;

    /// <inheritdoc/>
    public int FeatureCount => Images.FeatureCount;

    /// <inheritdoc/>
    public int TargetCount => Images.Classes;

    /// <inheritdoc/>
    public int ClassOf(int row) => Images.Labels[row];

    /// <summary>The rows as they are (normalised, not augmented): what evaluation sees.</summary>
    public void Gather(ReadOnlySpan<int> rows, Matrix<T> features, Matrix<T> targets) => GatherView(rows, ImageView.Identity, features, targets);

    /// <summary>The rows, each seen through the same <paramref name="view"/> (test-time augmentation).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The shift is not below the image's sides.</exception>
    public void GatherView(ReadOnlySpan<int> rows, ImageView view, Matrix<T> features, Matrix<T> targets)
    {
        if (Math.Abs(view.Dy) >= Images.Height || Math.Abs(view.Dx) >= Images.Width)
            throw new ArgumentOutOfRangeException(nameof(view), view, $"A view's shift must be below the image's sides ({Images.Height}×{Images.Width}).");
        Prepare(rows, features, targets);
        for (int i = 0; i < rows.Length; i++) Write(rows[i], i, view, cutoutY: 0, cutoutX: 0, cutout: 0, features, targets);
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epoch"/> is negative.</exception>
    public void GatherTraining(ReadOnlySpan<int> rows, int epoch, Matrix<T> features, Matrix<T> targets)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        Prepare(rows, features, targets);
        var a = Augmentation;
        for (int i = 0; i < rows.Length; i++)
        {
            int image = rows[i];
            var draw = new Draw(Mix(Mix(_seed ^ 0x9E3779B97F4A7C15UL) ^ (ulong)epoch) ^ (ulong)image);
            int dy = a.CropPadding == 0 ? 0 : draw.Below(2 * a.CropPadding + 1) - a.CropPadding;
            int dx = a.CropPadding == 0 ? 0 : draw.Below(2 * a.CropPadding + 1) - a.CropPadding;
            bool flip = a.Flip switch
            {
                FlipMode.Random => draw.Below(2) == 1,
                // The epoch-0 choice depends on the image alone; later epochs alternate from it.
                FlipMode.Alternating => (new Draw(Mix(_seed ^ 0xD1B54A32D192ED03UL) ^ (ulong)image).Below(2) == 1) ^ (epoch % 2 == 1),
                _ => false,
            };
            int cy = a.Cutout == 0 ? 0 : draw.Below(Images.Height), cx = a.Cutout == 0 ? 0 : draw.Below(Images.Width);
            Write(image, i, new ImageView(dy, dx, flip), cy, cx, a.Cutout, features, targets);
        }
    }

    private void Prepare(ReadOnlySpan<int> rows, Matrix<T> features, Matrix<T> targets)
    {
        features.RequireCols(FeatureCount, "Gathered features");
        targets.RequireCols(TargetCount, "Gathered targets");
        features.SetRows(rows.Length);
        targets.SetRows(rows.Length);
        targets.Span.Clear();
    }

    // Writes image `image` seen through `view` into row `row` of the batch, with a cutout square centred at (cutoutY, cutoutX).
    private void Write(int image, int row, ImageView view, int cutoutY, int cutoutX, int cutout, Matrix<T> features, Matrix<T> targets)
    {
        int height = Images.Height, width = Images.Width, plane = height * width;
        for (int x = 0; x < width; x++) _columns[x] = Reflect((view.Flip ? width - 1 - x : x) + view.Dx, width);
        for (int y = 0; y < height; y++) _rowsFrom[y] = Reflect(y + view.Dy, height);
        var source = Images.Pixels.AsSpan(checked(image * FeatureCount), FeatureCount);
        var destination = features.Row(row);
        bool identity = view == ImageView.Identity;
        for (int c = 0; c < Images.Channels; c++)
        {
            var table = _table.AsSpan(c * 256, 256);
            for (int y = 0; y < height; y++)
            {
                var from = source.Slice(c * plane + _rowsFrom[y] * width, width);
                var to = destination.Slice(c * plane + y * width, width);
                if (identity)
                    for (int x = 0; x < width; x++) to[x] = table[from[x]];
                else
                    for (int x = 0; x < width; x++) to[x] = table[from[_columns[x]]];
            }
        }
        if (cutout > 0)
        {
            // DeVries & Taylor's cutout: the square may hang over the border, and is clipped there.
            int y0 = Math.Max(0, cutoutY - cutout / 2), y1 = Math.Min(height, cutoutY - cutout / 2 + cutout);
            int x0 = Math.Max(0, cutoutX - cutout / 2), x1 = Math.Min(width, cutoutX - cutout / 2 + cutout);
            for (int c = 0; c < Images.Channels; c++)
                for (int y = y0; y < y1; y++) destination.Slice(c * plane + y * width + x0, x1 - x0).Clear();
        }
        targets[row, Images.Labels[image]] = T.One;
    }

    // PyTorch's 'reflect' padding: −1 → 1, n → n − 2 (the edge is not repeated); |shift| < n keeps one reflection enough.
    private static int Reflect(int i, int n) => i < 0 ? -i : i >= n ? 2 * n - 2 - i : i;

    // SplitMix64's finaliser: a bijective mix, so that (seed, epoch, image) keys give independent-looking draws.
    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    // A few bounded draws from one image's key.
    private struct Draw(ulong key)
    {
        private ulong _state = key;

        // Uniform in [0, bound): the high half of a 32-bit draw times the bound (bias below 2⁻²⁴ for these small bounds).
        public int Below(int bound)
        {
            _state = Mix(_state);
            return (int)(((_state >> 32) * (ulong)bound) >> 32);
        }
    }
}
