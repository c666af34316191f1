using System.Numerics;
using System.Numerics.Tensors;
using ScratchNet.Compute;

namespace ScratchNet.Layers;

/// <summary>
/// 2-D convolution as PyTorch's <c>nn.Conv2d</c> (dilation 1, zero padding): samples (C, H, W) in, (OC, OH, OW)
/// out, OH = ⌊(H + pad_top + pad_bottom − KH) / SH⌋ + 1 (likewise OW), weight (OC, C/groups, KH, KW), bias (OC).
/// y[o, oh, ow] = b[o] + Σ_{c, ki, kj} w[o, c, ki, kj]·x[g·C/groups + c, oh·SH − pad_top + ki, ow·SW − pad_left + kj],
/// g = o / (OC/groups), x zero outside the image.
/// </summary>
/// <remarks>
/// Backward, with cols(x) the column matrix (see <c>Im2Col</c>): dW += dY·cols(x)ᵀ, db += Σ dY over positions,
/// dX = col2im(Wᵀ·dY), the adjoint of the gather. Ungrouped stride-1 layers run forward and dX through a direct
/// kernel (<c>DirectConvolution</c>, dX as the convolution of dY with the flipped kernel) on AVX2/AVX-512
/// machines, the rest through the core's GEMM; parallel over the batch (dW over its columns), deterministic for
/// any thread count; a warm pass allocates nothing.
/// </remarks>
public sealed unsafe class Conv2d<T> : Layer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly ConvGeometry _geometry;
    private readonly Convolution<T> _kernels = new();
    private Matrix<T>? _input;                  // (B, C·H·W), cached by Forward: dW needs it

    /// <summary>A square kernel with the same stride and padding on both axes.</summary>
    /// <exception cref="ArgumentException">The input is not (C, H, W), the groups divide neither channel count, or the kernel does not fit.</exception>
    public Conv2d(Shape inputShape, int outChannels, int kernelSize, int stride = 1, int padding = 0, bool bias = true, int groups = 1, Matrix<T>? weight = null,
        bool frozenWeight = false)
        : this(inputShape, outChannels, (kernelSize, kernelSize), (stride, stride), (padding, padding, padding, padding), same: false, bias, groups, weight, frozenWeight)
    {
    }

    /// <summary>A (KH, KW) kernel, stride (SH, SW) and symmetric padding (PH, PW).</summary>
    /// <exception cref="ArgumentException">The input is not (C, H, W), the groups divide neither channel count, or the kernel does not fit.</exception>
    public Conv2d(Shape inputShape, int outChannels, (int Height, int Width) kernelSize, (int Height, int Width) stride, (int Height, int Width) padding,
        bool bias = true, int groups = 1, Matrix<T>? weight = null, bool frozenWeight = false)
        : this(inputShape, outChannels, kernelSize, stride, (padding.Height, padding.Width, padding.Height, padding.Width), same: false, bias, groups, weight, frozenWeight)
    {
    }

    /// <summary>
    /// PyTorch's <c>padding="same"</c> at stride 1: the output keeps H and W; a kernel of even size pads one more
    /// row (column) below (right) than above (left), as PyTorch does.
    /// </summary>
    public static Conv2d<T> Same(Shape inputShape, int outChannels, (int Height, int Width) kernelSize, bool bias = true, int groups = 1, Matrix<T>? weight = null,
        bool frozenWeight = false)
    {
        int kh = ImageShape.InRange(kernelSize.Height, 1, ImageShape.MaxExtent, "kernel height"), kw = ImageShape.InRange(kernelSize.Width, 1, ImageShape.MaxExtent, "kernel width");
        return new(inputShape, outChannels, kernelSize, (1, 1), ((kh - 1) / 2, (kw - 1) / 2, kh - 1 - (kh - 1) / 2, kw - 1 - (kw - 1) / 2), same: true, bias, groups, weight, frozenWeight);
    }

    private Conv2d(Shape inputShape, int outChannels, (int Height, int Width) kernel, (int Height, int Width) stride,
        (int Top, int Left, int Bottom, int Right) padding, bool same, bool bias, int groups, Matrix<T>? weight, bool frozenWeight)
        : base(inputShape, OutputShapeOf(inputShape, outChannels, kernel, stride, padding, groups))
    {
        var (channels, height, width) = ImageShape.Of(inputShape, "conv2d");
        var output = OutputShape;
        _geometry = new ConvGeometry(channels, height, width, outChannels, groups, kernel.Height, kernel.Width, stride.Height, stride.Width,
            padding.Top, padding.Left, output[1], output[2]);
        KernelSize = kernel;
        Stride = stride;
        Padding = padding;
        SamePadding = same;
        weight ??= new Matrix<T>(outChannels, _geometry.Patch);
        weight.RequireShape(outChannels, _geometry.Patch, "Conv2d weight");
        var weightShape = new Shape(outChannels, channels / groups, kernel.Height, kernel.Width);
        Weight = new Parameter<T>("weight", weight, weightShape, regularized: !frozenWeight);
        if (bias) Bias = new Parameter<T>("bias", new Matrix<T>(1, outChannels), new Shape(outChannels), regularized: false);
        FrozenWeight = frozenWeight;
        Parameters = [.. new[] { frozenWeight ? null : Weight, Bias }.OfType<Parameter<T>>()];
        Buffers = frozenWeight ? [new("weight", weight, weightShape)] : [];
    }

    /// <summary>
    /// W, stored (OC, C/groups·KH·KW): PyTorch's (OC, C/groups, KH, KW) row-major. Regularised by the network's L2
    /// penalty; with <see cref="FrozenWeight"/> neither regularised nor among the parameters (saved and loaded as a buffer).
    /// </summary>
    public Parameter<T> Weight { get; }

    /// <summary>
    /// Whether W stays as set (airbench's whitening layer, whose weights come from the data's patch covariance): no
    /// optimiser steps it and the backward pass skips dW.
    /// </summary>
    public bool FrozenWeight { get; }

    /// <inheritdoc/>
    public override IReadOnlyList<NamedTensor<T>> Buffers { get; }

    /// <summary>b, (OC), or null for a convolution without bias. Never regularised.</summary>
    public Parameter<T>? Bias { get; }

    /// <summary>Input channels C.</summary>
    public int InChannels => _geometry.Channels;

    /// <summary>Output channels OC.</summary>
    public int OutChannels => _geometry.OutChannels;

    /// <summary>The kernel's (height, width).</summary>
    public (int Height, int Width) KernelSize { get; }

    /// <summary>The stride along (height, width).</summary>
    public (int Height, int Width) Stride { get; }

    /// <summary>Zero padding on each side.</summary>
    public (int Top, int Left, int Bottom, int Right) Padding { get; }

    /// <summary>Whether the padding is PyTorch's "same" (the layer was made by <see cref="Same"/>).</summary>
    public bool SamePadding { get; }

    /// <summary>Channel groups: each output channel sees C/groups inputs (groups = C is a depthwise convolution).</summary>
    public int Groups => _geometry.Groups;

    /// <summary>Multiply-adds of one sample's forward pass.</summary>
    public long MultiplyAddsPerSample => _geometry.MultiplyAdds;

    /// <inheritdoc/>
    public override IReadOnlyList<Parameter<T>> Parameters { get; }

    /// <inheritdoc/>
    internal override bool BackwardReturnsInputGradient => true;

    /// <inheritdoc/>
    internal override bool ForwardReturnsOutput => true;

    /// <inheritdoc/>
    internal override bool BackwardReadsOutput => false;

    /// <inheritdoc/>
    public override string Kind => "conv2d";

    /// <inheritdoc/>
    public override IEnumerable<KeyValuePair<string, object>> Settings =>
    [
        new("in_channels", InChannels), new("out_channels", OutChannels),
        new("kernel_size", new[] { KernelSize.Height, KernelSize.Width }), new("stride", new[] { Stride.Height, Stride.Width }),
        new("padding", SamePadding ? "same" : new[] { Padding.Top, Padding.Left }),
        new("bias", Bias is not null), new("groups", Groups), new("frozen_weight", FrozenWeight),
    ];

    /// <summary>Rebuilds the layer from its settings, with zero weights for the state to fill: the registry's reader.</summary>
    public static Conv2d<T> Read(LayerSettings settings)
    {
        if (settings.Input.Rank != 3) throw settings.Fault($"reads (channels, height, width) samples but follows shape {settings.Input}");
        int inChannels = settings.PositiveInt("in_channels"), outChannels = settings.PositiveInt("out_channels");
        if (inChannels != settings.Input[0]) throw settings.Fault($"reads {inChannels} channels but follows shape {settings.Input}");
        int[] kernel = settings.Ints("kernel_size", 2, 1, ImageShape.MaxExtent), stride = settings.Ints("stride", 2, 1, ImageShape.MaxExtent);
        bool same = settings.IsString("padding") && settings.String("padding", "same") == "same";
        int[] padding = same ? [0, 0] : settings.Ints("padding", 2, 0, ImageShape.MaxExtent);
        bool bias = settings.Bool("bias"), frozen = settings.Bool("frozen_weight", fallback: false);
        int groups = settings.Int("groups", 1, inChannels);
        if (inChannels % groups != 0 || outChannels % groups != 0)
            throw settings.Fault($"has {groups} groups, which do not divide {inChannels} input and {outChannels} output channels");
        if (same && (stride[0] != 1 || stride[1] != 1)) throw settings.Fault("has padding \"same\" at a stride other than 1");
        settings.Reserve((long)outChannels * (inChannels / groups) * kernel[0] * kernel[1] + outChannels);
        try
        {
            return same ? Same(settings.Input, outChannels, (kernel[0], kernel[1]), bias, groups, frozenWeight: frozen)
                : new Conv2d<T>(settings.Input, outChannels, (kernel[0], kernel[1]), (stride[0], stride[1]), (padding[0], padding[1]), bias, groups, frozenWeight: frozen);
        }
        catch (ArgumentException e) { throw settings.Fault(e.Message); }
    }

    /// <inheritdoc/>
    /// <remarks>ONNX's Conv on (N, C, H, W) with explicit pads [top, left, bottom, right].</remarks>
    public override string Export(IGraphBuilder<T> graph, string input, string name)
    {
        var inputs = new List<string> { input, graph.AddInitializer($"{name}.weight", Weight.Value.Span, Weight.Shape) };
        if (Bias is not null) inputs.Add(graph.AddInitializer($"{name}.bias", Bias.Value.Span, Bias.Shape));
        return graph.AddNode("Conv", name, inputs,
        [
            new("kernel_shape", new long[] { KernelSize.Height, KernelSize.Width }),
            new("strides", new long[] { Stride.Height, Stride.Width }),
            new("pads", new long[] { Padding.Top, Padding.Left, Padding.Bottom, Padding.Right }),
            new("group", (long)Groups),
        ]);
    }

    /// <inheritdoc/>
    protected override Matrix<T>? LastOutput => _input is null ? null : Output;

    /// <inheritdoc/>
    protected override Matrix<T> ForwardCore(Matrix<T> input)
    {
        _input = input;
        Output.SetRows(input.Rows);
        fixed (T* x = input.Span, w = Weight.Value.Span, y = Output.Span)
        fixed (T* b = Bias is null ? default : Bias.Value.Span)
            _kernels.Forward(_geometry, input.Rows, x, w, Bias is null ? null : b, y);
        return Output;
    }

    /// <inheritdoc/>
    protected override Matrix<T> BackwardCore(Matrix<T> outputGradient)
    {
        BackwardInto(outputGradient, withInputGradient: true);
        return InputGradient;
    }

    /// <inheritdoc/>
    /// <remarks>Skips backward-data, a third of the layer's work (all of it for a frozen first layer without bias).</remarks>
    internal override Matrix<T>? BackwardParametersOnly(Matrix<T> outputGradient)
    {
        BackwardInto(outputGradient, withInputGradient: false);
        return null;
    }

    private void BackwardInto(Matrix<T> outputGradient, bool withInputGradient)
    {
        var input = _input!;
        int batch = outputGradient.Rows, plane = _geometry.OutputPlane;
        if (withInputGradient) InputGradient.SetRows(batch);
        fixed (T* x = input.Span, w = Weight.Value.Span, dy = outputGradient.Span, dw = Weight.Gradient.Span, dx = InputGradient.Span)
        {
            if (!FrozenWeight) _kernels.BackwardWeights(_geometry, batch, x, dy, dw);
            if (withInputGradient) _kernels.BackwardData(_geometry, batch, dy, w, dx);
        }
        if (Bias is not null)
        {
            // db[o] += Σ_n Σ_p dY[n, o, p], sample by sample in order
            var db = Bias.Gradient.Span;
            for (int n = 0; n < batch; n++)
            {
                var row = outputGradient.Row(n);
                for (int o = 0; o < db.Length; o++) db[o] += TensorPrimitives.Sum<T>(row.Slice(o * plane, plane));
            }
        }
    }

    private static Shape OutputShapeOf(Shape input, int outChannels, (int Height, int Width) kernel, (int Height, int Width) stride,
        (int Top, int Left, int Bottom, int Right) padding, int groups)
    {
        var (channels, height, width) = ImageShape.Of(input, "conv2d");
        ImageShape.InRange(outChannels, 1, int.MaxValue, "out channels");
        ImageShape.InRange(kernel.Height, 1, ImageShape.MaxExtent, "kernel height");
        ImageShape.InRange(kernel.Width, 1, ImageShape.MaxExtent, "kernel width");
        ImageShape.InRange(stride.Height, 1, ImageShape.MaxExtent, "stride height");
        ImageShape.InRange(stride.Width, 1, ImageShape.MaxExtent, "stride width");
        foreach (int pad in new[] { padding.Top, padding.Left, padding.Bottom, padding.Right }) ImageShape.InRange(pad, 0, ImageShape.MaxExtent, "padding");
        ImageShape.InRange(groups, 1, channels, "groups");
        if (channels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"{groups} groups divide neither {channels} input nor {outChannels} output channels evenly.", nameof(groups));
        int oh = ImageShape.OutputLength(height, kernel.Height, stride.Height, padding.Top, padding.Bottom, "height");
        int ow = ImageShape.OutputLength(width, kernel.Width, stride.Width, padding.Left, padding.Right, "width");
        if ((long)(channels / groups) * kernel.Height * kernel.Width * Math.Max(oh * (long)ow, 1) > Array.MaxLength)
            throw new ArgumentException($"A kernel of {kernel} over {channels / groups} channels makes a column matrix larger than an array.");
        return new Shape(outChannels, oh, ow);
    }
}
