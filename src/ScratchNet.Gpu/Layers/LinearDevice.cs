using System.Numerics;
using ScratchNet.Layers;

namespace ScratchNet.Gpu.Layers;

/// <summary><see cref="Linear{T}"/> on the device: y = x·Wᵀ + b; dW += dyᵀ·x, db += Σ_rows dy, dx = dy·W (no b, no db without a bias).</summary>
[DeviceHalf(typeof(Linear<>))]
internal sealed class LinearDevice<T> : DeviceLayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly DeviceParameter<T> _weight;
    private readonly DeviceParameter<T>? _bias;
    private readonly int _inputs, _outputs;
    private readonly DeviceMatrix<T> _output, _inputGradient;
    private DeviceMatrix<T>? _input;

    public LinearDevice(Linear<T> layer, DeviceContext<T> context) : base(context)
    {
        _weight = context.Parameter(layer.Weight);
        _bias = layer.Bias is null ? null : context.Parameter(layer.Bias);
        (_inputs, _outputs) = (layer.InputSize, layer.OutputSize);
        _output = NewMatrix(_outputs);
        _inputGradient = NewMatrix(_inputs);
    }

    public override DeviceMatrix<T> Forward(DeviceMatrix<T> input)
    {
        _input = input;
        _output.SetRows(input.Rows);
        Run.Gemm(false, true, input.Rows, _outputs, _inputs, T.One, input.View, _inputs, _weight.Value, _inputs, T.Zero, _output.View, _outputs);
        if (_bias is not null) Run.AddRowVector(_output, _bias.Value);
        return _output;
    }

    public override DeviceMatrix<T> Backward(DeviceMatrix<T> outputGradient)
    {
        var input = _input!;
        int rows = input.Rows;
        Run.Gemm(true, false, _outputs, _inputs, rows, T.One, outputGradient.View, _outputs, input.View, _inputs, T.One, _weight.Gradient, _inputs);
        if (_bias is not null) Run.ColumnSums(outputGradient, _bias.Gradient, T.One);
        _inputGradient.SetRows(rows);
        Run.Gemm(false, false, rows, _inputs, _outputs, T.One, outputGradient.View, _outputs, _weight.Value, _inputs, T.Zero, _inputGradient.View, _inputs);
        return _inputGradient;
    }
}
