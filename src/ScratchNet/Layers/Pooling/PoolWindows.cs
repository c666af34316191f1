namespace ScratchNet.Layers;

/// <summary>
/// The windows of a 2-D pooling layer over (C, H, W) samples (floor mode, dilation 1), with the settings, reader
/// checks and ONNX attributes the pooling layers share. Window (oh, ow) covers rows [oh·SH − PH, oh·SH − PH + KH)
/// and columns likewise, clipped to the image by <see cref="Rows"/> and <see cref="Columns"/>.
/// </summary>
internal sealed class PoolWindows
{
    public PoolWindows(Shape input, (int Height, int Width) kernel, (int Height, int Width) stride, (int Height, int Width) padding, string layer)
    {
        (Channels, Height, Width) = ImageShape.Of(input, layer);
        ImageShape.InRange(kernel.Height, 1, ImageShape.MaxExtent, "kernel height");
        ImageShape.InRange(kernel.Width, 1, ImageShape.MaxExtent, "kernel width");
        ImageShape.InRange(stride.Height, 1, ImageShape.MaxExtent, "stride height");
        ImageShape.InRange(stride.Width, 1, ImageShape.MaxExtent, "stride width");
        ImageShape.InRange(padding.Height, 0, kernel.Height / 2, "padding height (at most half the kernel)");
        ImageShape.InRange(padding.Width, 0, kernel.Width / 2, "padding width (at most half the kernel)");
        OutHeight = ImageShape.OutputLength(Height, kernel.Height, stride.Height, padding.Height, padding.Height, "height");
        OutWidth = ImageShape.OutputLength(Width, kernel.Width, stride.Width, padding.Width, padding.Width, "width");
        (Input, Kernel, Stride, Padding) = (input, kernel, stride, padding);
        Output = new Shape(Channels, OutHeight, OutWidth);
    }

    public Shape Input { get; }
    public Shape Output { get; }
    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }
    public int OutHeight { get; }
    public int OutWidth { get; }
    public (int Height, int Width) Kernel { get; }
    public (int Height, int Width) Stride { get; }
    public (int Height, int Width) Padding { get; }

    /// <summary>Input rows [start, end) of output row <paramref name="oh"/>, clipped to the image.</summary>
    public (int Start, int End) Rows(int oh)
    {
        int start = oh * Stride.Height - Padding.Height;
        return (Math.Max(start, 0), Math.Min(start + Kernel.Height, Height));
    }

    /// <summary>Input columns [start, end) of output column <paramref name="ow"/>, clipped to the image.</summary>
    public (int Start, int End) Columns(int ow)
    {
        int start = ow * Stride.Width - Padding.Width;
        return (Math.Max(start, 0), Math.Min(start + Kernel.Width, Width));
    }

    public IEnumerable<KeyValuePair<string, object>> Settings =>
    [
        new("kernel_size", new[] { Kernel.Height, Kernel.Width }), new("stride", new[] { Stride.Height, Stride.Width }),
        new("padding", new[] { Padding.Height, Padding.Width }),
    ];

    public IReadOnlyList<KeyValuePair<string, object>> OnnxAttributes =>
    [
        new("kernel_shape", new long[] { Kernel.Height, Kernel.Width }),
        new("strides", new long[] { Stride.Height, Stride.Width }),
        new("pads", new long[] { Padding.Height, Padding.Width, Padding.Height, Padding.Width }),
    ];

    /// <summary>The windows that <paramref name="settings"/> describe, every fault one settings error.</summary>
    public static PoolWindows Read(LayerSettings settings)
    {
        if (settings.Input.Rank != 3) throw settings.Fault($"reads (channels, height, width) samples but follows shape {settings.Input}");
        int[] kernel = settings.Ints("kernel_size", 2, 1, ImageShape.MaxExtent), stride = settings.Ints("stride", 2, 1, ImageShape.MaxExtent);
        int[] padding = settings.Ints("padding", 2, 0, ImageShape.MaxExtent);
        try { return new PoolWindows(settings.Input, (kernel[0], kernel[1]), (stride[0], stride[1]), (padding[0], padding[1]), settings.Kind); }
        catch (ArgumentException e) { throw settings.Fault(e.Message); }
    }
}
