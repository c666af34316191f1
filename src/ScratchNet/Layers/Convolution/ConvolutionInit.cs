using System.Numerics;

namespace ScratchNet.Layers;

/// <summary>
/// Initialisations of a <see cref="Conv2d{T}"/> beyond the random ones of <see cref="Initializers"/>: the identity
/// on the first channels (<see cref="Dirac"/>) and the whitening of the data's patches (<see cref="Whiten"/>).
/// </summary>
public static class ConvolutionInit
{
    /// <summary>
    /// PyTorch's <c>dirac_</c> on the first min(OC, C/groups) filters of each group: filter o passes input channel o
    /// of its group through unchanged (1 at the kernel's centre, ⌊K/2⌋, 0 elsewhere); the other filters keep their
    /// values. airbench applies it over a random initialisation, so that each block starts close to the identity.
    /// </summary>
    public static void Dirac<T>(Conv2d<T> conv) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (kh, kw) = conv.KernelSize;
        int perGroupIn = conv.InChannels / conv.Groups, perGroupOut = conv.OutChannels / conv.Groups, patch = perGroupIn * kh * kw;
        var w = conv.Weight.Value.Span;
        for (int g = 0; g < conv.Groups; g++)
            for (int k = 0; k < Math.Min(perGroupOut, perGroupIn); k++)
            {
                var filter = w.Slice((g * perGroupOut + k) * patch, patch);
                filter.Clear();
                filter[(k * kh + kh / 2) * kw + kw / 2] = T.One;
            }
    }

    /// <summary>
    /// airbench's whitening layer: with Σ the (uncentred) covariance of every KH×KW patch of <paramref name="images"/>
    /// (rows of C·H·W values; all windows inside the image, stride 1) and Σ = V·diag(λ)·Vᵀ, the filters are the
    /// eigenvectors scaled by 1/√(λ + ε), largest λ first, then the same negated: OC must be 2·C·KH·KW. The first half
    /// of the outputs then has covariance diag(λ / (λ + ε)) on those images, close to the identity. Sums in double,
    /// in a fixed order.
    /// </summary>
    /// <exception cref="ArgumentException">The layer is grouped, its OC is not 2·C·KH·KW, or the images do not fit its input.</exception>
    public static void Whiten<T>(Conv2d<T> conv, Matrix<T> images, double epsilon = 5e-4) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (kh, kw) = conv.KernelSize;
        int channels = conv.InChannels, patch = channels * kh * kw;
        if (conv.Groups != 1) throw new ArgumentException($"Whitening needs an ungrouped convolution; this one has {conv.Groups} groups.", nameof(conv));
        if (conv.OutChannels != 2 * patch)
            throw new ArgumentException($"Whitening a {channels}×{kh}×{kw} patch needs {2 * patch} output channels (each eigenvector and its negation); the layer has {conv.OutChannels}.", nameof(conv));
        if (images.Cols != conv.InputSize) throw new ArgumentException($"Images of {images.Cols} values do not fit the layer's input {conv.InputShape}.", nameof(images));
        if (!(epsilon > 0 && double.IsFinite(epsilon))) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "Epsilon must be positive.");
        var (_, height, width) = ImageShape.Of(conv.InputShape, "conv2d");
        if (height < kh || width < kw) throw new ArgumentException($"A {kh}×{kw} kernel has no window inside {height}×{width} images.", nameof(conv));

        var covariance = PatchCovariance(images, channels, height, width, kh, kw);
        var (values, vectors) = SymmetricEigen(covariance, patch);
        var w = conv.Weight.Value.Span;
        for (int k = 0; k < patch; k++)
        {
            double scale = 1 / Math.Sqrt(Math.Max(values[k], 0) + epsilon);
            for (int i = 0; i < patch; i++)
            {
                w[k * patch + i] = T.CreateChecked(vectors[i * patch + k] * scale);
                w[(patch + k) * patch + i] = -w[k * patch + i];
            }
        }
    }

    // Σ[i, j] = mean over windows of p_i·p_j, p indexed (c, ki, kj) as the weight's columns.
    private static double[] PatchCovariance<T>(Matrix<T> images, int channels, int height, int width, int kh, int kw) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int patch = channels * kh * kw;
        var sums = new double[patch * patch];
        var p = new double[patch];
        long windows = 0;
        for (int n = 0; n < images.Rows; n++)
        {
            var image = images.Row(n);
            for (int y = 0; y + kh <= height; y++)
                for (int x = 0; x + kw <= width; x++)
                {
                    int i = 0;
                    for (int c = 0; c < channels; c++)
                        for (int ki = 0; ki < kh; ki++)
                            for (int kj = 0; kj < kw; kj++)
                                p[i++] = double.CreateChecked(image[(c * height + y + ki) * width + x + kj]);
                    for (int a = 0; a < patch; a++)
                        for (int b = a; b < patch; b++)
                            sums[a * patch + b] += p[a] * p[b];
                    windows++;
                }
        }
        if (windows == 0) throw new ArgumentException("Whitening needs at least one image.", nameof(images));
        for (int a = 0; a < patch; a++)
            for (int b = a; b < patch; b++)
                sums[b * patch + a] = sums[a * patch + b] /= windows;
        return sums;
    }

    /// <summary>
    /// The eigenvalues (descending) and eigenvectors (column k of the row-major n×n result belongs to value k) of a
    /// symmetric matrix, by cyclic Jacobi rotations: slow for large n but exact to rounding for the 12×12 or 27×27
    /// matrices of patch covariances.
    /// </summary>
    internal static (double[] Values, double[] Vectors) SymmetricEigen(double[] matrix, int n)
    {
        var a = (double[])matrix.Clone();
        var v = new double[n * n];
        for (int i = 0; i < n; i++) v[i * n + i] = 1;
        for (int sweep = 0; sweep < 100; sweep++)
        {
            double off = 0, scale = 0;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    if (i != j) off += a[i * n + j] * a[i * n + j]; else scale += a[i * n + j] * a[i * n + j];
            if (off <= 1e-30 * Math.Max(scale, double.Epsilon)) break;
            for (int p = 0; p < n - 1; p++)
                for (int q = p + 1; q < n; q++)
                {
                    double apq = a[p * n + q];
                    if (apq == 0) continue;
                    // The rotation that zeroes a[p, q]: tan(θ) = t, the smaller root of t² + 2τt − 1 = 0.
                    double tau = (a[q * n + q] - a[p * n + p]) / (2 * apq);
                    double t = Math.Sign(tau) is var s && s == 0 ? 1 / (Math.Abs(tau) + Math.Sqrt(1 + tau * tau)) : s / (Math.Abs(tau) + Math.Sqrt(1 + tau * tau));
                    double c = 1 / Math.Sqrt(1 + t * t), sn = t * c;
                    for (int k = 0; k < n; k++)
                    {
                        double akp = a[k * n + p], akq = a[k * n + q];
                        a[k * n + p] = c * akp - sn * akq;
                        a[k * n + q] = sn * akp + c * akq;
                    }
                    for (int k = 0; k < n; k++)
                    {
                        double apk = a[p * n + k], aqk = a[q * n + k];
                        a[p * n + k] = c * apk - sn * aqk;
                        a[q * n + k] = sn * apk + c * aqk;
                    }
                    for (int k = 0; k < n; k++)
                    {
                        double vkp = v[k * n + p], vkq = v[k * n + q];
                        v[k * n + p] = c * vkp - sn * vkq;
                        v[k * n + q] = sn * vkp + c * vkq;
                    }
                }
        }
        var order = Enumerable.Range(0, n).OrderByDescending(k => a[k * n + k]).ToArray();
        var values = order.Select(k => a[k * n + k]).ToArray();
        var vectors = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < n; k++)
                vectors[i * n + k] = v[i * n + order[k]];
        return (values, vectors);
    }
}
