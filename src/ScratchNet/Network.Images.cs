using ScratchNet.Layers;

namespace ScratchNet;

// The builder methods of the image layers, each reading the current (C, H, W) shape.
public sealed partial class Network<T>
{
    /// <summary>
    /// Adds a 2-D convolution of <paramref name="outChannels"/> output channels with a square <paramref name="kernelSize"/>
    /// kernel over the current (C, H, W) samples; weights drawn by <paramref name="init"/> (fan_in = C/groups·K², fan_out
    /// = OC/groups·K², from the network's seeded generator), bias zero.
    /// </summary>
    /// <exception cref="ArgumentException">The current shape is not (C, H, W), the groups do not divide the channels, or the kernel does not fit.</exception>
    public Conv2d<T> AddConv2d(int outChannels, int kernelSize, int stride = 1, int padding = 0, bool bias = true, int groups = 1, Init init = Init.HeNormal) =>
        Add(InitConv(new Conv2d<T>(CurrentShape, outChannels, kernelSize, stride, padding, bias, groups), init));

    /// <summary>As <see cref="AddConv2d(int, int, int, int, bool, int, Init)"/> with PyTorch's <c>padding="same"</c> (stride 1: the output keeps H and W).</summary>
    public Conv2d<T> AddConv2dSame(int outChannels, int kernelSize, bool bias = true, int groups = 1, Init init = Init.HeNormal) =>
        Add(InitConv(Conv2d<T>.Same(CurrentShape, outChannels, (kernelSize, kernelSize), bias, groups), init));

    /// <summary>Adds max pooling over square windows of <paramref name="kernelSize"/> (the stride defaults to the window).</summary>
    public MaxPool2d<T> AddMaxPool2d(int kernelSize, int? stride = null, int padding = 0) => Add(new MaxPool2d<T>(CurrentShape, kernelSize, stride, padding));

    /// <summary>Adds average pooling over square windows of <paramref name="kernelSize"/> (the stride defaults to the window).</summary>
    public AvgPool2d<T> AddAvgPool2d(int kernelSize, int? stride = null, int padding = 0, bool countIncludePad = true) =>
        Add(new AvgPool2d<T>(CurrentShape, kernelSize, stride, padding, countIncludePad));

    /// <summary>Adds global average pooling: (C, H, W) → (C).</summary>
    public GlobalAvgPool2d<T> AddGlobalAvgPool2d() => Add(new GlobalAvgPool2d<T>(CurrentShape));

    /// <summary>Adds a flatten, (C, H, W) → (C·H·W), before a linear layer (no copy).</summary>
    public Flatten<T> AddFlatten() => Add(new Flatten<T>(CurrentShape));

    /// <summary>Adds per-channel batch normalisation over the current (C, H, W) samples (γ = 1, β = 0; PyTorch's defaults).</summary>
    public BatchNorm2d<T> AddBatchNorm2d(double momentum = 0.1, double epsilon = 1e-5, bool affine = true, bool frozenWeight = false) =>
        Add(new BatchNorm2d<T>(CurrentShape, momentum, epsilon, affine, frozenWeight));

    private Conv2d<T> InitConv(Conv2d<T> layer, Init init)
    {
        int taps = layer.KernelSize.Height * layer.KernelSize.Width;
        Initializers.Fill(layer.Weight.Value.Span, init, layer.InChannels / layer.Groups * taps, layer.OutChannels / layer.Groups * taps, _rng);
        return layer;
    }
}
