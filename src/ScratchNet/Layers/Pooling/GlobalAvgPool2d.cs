using System.Numerics;
using System.Numerics.Tensors;

namespace ScratchNet.Layers;

/// <summary>
/// Global average pooling: (C, H, W) in, (C) out, each channel's mean over its H·W positions (PyTorch's
/// <c>nn.AdaptiveAvgPool2d(1)</c> followed by <c>nn.Flatten()</c>). Backward: dx = dy / (H·W) at every position.
/// </summary>
public sealed class GlobalAvgPool2d<T> : Layer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly int _plane;
    private bool _ran;

    /// <summary>Pools samples of <paramref name="inputShape"/>, (C, H, W).</summary>
    /// <exception cref="ArgumentException">The input is not (C, H, W).</exception>
    public GlobalAvgPool2d(Shape inputShape) : base(inputShape, new Shape(ImageShape.Of(inputShape, "global_avgpool2d").Channels))
    {
        _plane = inputShape[1] * inputShape[2];
    }

    /// <inheritdoc/>
    internal override bool BackwardReturnsInputGradient => true;

    /// <inheritdoc/>
    internal override bool ForwardReturnsOutput => true;

    /// <inheritdoc/>
    internal override bool BackwardReadsInput => false;

    /// <inheritdoc/>
    internal override bool BackwardReadsOutput => false;

    /// <inheritdoc/>
    public override string Kind => "global_avgpool2d";

    /// <summary>Rebuilds the layer from its (empty) settings: the registry's reader.</summary>
    public static GlobalAvgPool2d<T> Read(LayerSettings settings) =>
        settings.Input.Rank == 3 ? new(settings.Input) : throw settings.Fault($"reads (channels, height, width) samples but follows shape {settings.Input}");

    /// <inheritdoc/>
    /// <remarks>ONNX's GlobalAveragePool gives (N, C, 1, 1); a Flatten makes it the layer's (N, C).</remarks>
    public override string Export(IGraphBuilder<T> graph, string input, string name) =>
        graph.AddNode("Flatten", name, [graph.AddNode("GlobalAveragePool", name, [input])], [new("axis", 1L)]);

    /// <inheritdoc/>
    protected override Matrix<T>? LastOutput => _ran ? Output : null;

    /// <inheritdoc/>
    protected override Matrix<T> ForwardCore(Matrix<T> input)
    {
        Output.SetRows(input.Rows);
        T count = T.CreateTruncating(_plane);
        for (int n = 0; n < input.Rows; n++)
        {
            var x = input.Row(n);
            var y = Output.Row(n);
            for (int c = 0; c < y.Length; c++) y[c] = TensorPrimitives.Sum<T>(x.Slice(c * _plane, _plane)) / count;
        }
        _ran = true;
        return Output;
    }

    /// <inheritdoc/>
    protected override Matrix<T> BackwardCore(Matrix<T> outputGradient)
    {
        InputGradient.SetRows(outputGradient.Rows);
        T count = T.CreateTruncating(_plane);
        for (int n = 0; n < outputGradient.Rows; n++)
        {
            var dy = outputGradient.Row(n);
            var dx = InputGradient.Row(n);
            for (int c = 0; c < dy.Length; c++) dx.Slice(c * _plane, _plane).Fill(dy[c] / count);
        }
        return InputGradient;
    }
}
