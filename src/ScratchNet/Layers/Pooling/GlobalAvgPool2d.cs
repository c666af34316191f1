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
    private readonly Matrix<T> _output;          // (B, C)
    private readonly Matrix<T> _inputGradient;   // (B, C·H·W)
    private bool _ran;

    /// <summary>Pools samples of <paramref name="inputShape"/>, (C, H, W).</summary>
    /// <exception cref="ArgumentException">The input is not (C, H, W).</exception>
    public GlobalAvgPool2d(Shape inputShape) : base(inputShape, new Shape(ImageShape.Of(inputShape, "global_avgpool2d").Channels))
    {
        _plane = inputShape[1] * inputShape[2];
        _output = new Matrix<T>(0, OutputSize);
        _inputGradient = new Matrix<T>(0, InputSize);
    }

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
    protected override Matrix<T>? LastOutput => _ran ? _output : null;

    /// <inheritdoc/>
    protected override Matrix<T> ForwardCore(Matrix<T> input)
    {
        _output.SetRows(input.Rows);
        T count = T.CreateTruncating(_plane);
        for (int n = 0; n < input.Rows; n++)
        {
            var x = input.Row(n);
            var y = _output.Row(n);
            for (int c = 0; c < y.Length; c++) y[c] = TensorPrimitives.Sum<T>(x.Slice(c * _plane, _plane)) / count;
        }
        _ran = true;
        return _output;
    }

    /// <inheritdoc/>
    protected override Matrix<T> BackwardCore(Matrix<T> outputGradient)
    {
        _inputGradient.SetRows(outputGradient.Rows);
        T count = T.CreateTruncating(_plane);
        for (int n = 0; n < outputGradient.Rows; n++)
        {
            var dy = outputGradient.Row(n);
            var dx = _inputGradient.Row(n);
            for (int c = 0; c < dy.Length; c++) dx.Slice(c * _plane, _plane).Fill(dy[c] / count);
        }
        return _inputGradient;
    }
}
