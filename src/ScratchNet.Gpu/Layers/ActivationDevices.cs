using System.Numerics;
using ScratchNet.Gpu.Kernels;
using ScratchNet.Layers;

namespace ScratchNet.Gpu.Layers;

/// <summary>An element-wise layer on the device: the function and its derivative are one <see cref="ElementOp"/> of the primitives.</summary>
internal abstract class ActivationDevice<T> : DeviceLayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly ElementOp _op;
    private readonly T _parameter;
    private readonly DeviceMatrix<T> _output, _inputGradient;
    private DeviceMatrix<T>? _input;

    protected ActivationDevice(Layer<T> layer, DeviceContext<T> context, ElementOp op, double parameter = 0) : base(context)
    {
        _op = op;
        _parameter = T.CreateChecked(parameter);
        _output = NewMatrix(layer.OutputSize);
        _inputGradient = NewMatrix(layer.InputSize);
    }

    public override DeviceMatrix<T> Forward(DeviceMatrix<T> input)
    {
        _input = input;
        Run.Map(_op, _parameter, input, _output.SetRows(input.Rows));
        return _output;
    }

    public override DeviceMatrix<T> Backward(DeviceMatrix<T> outputGradient)
    {
        Run.MapGradient(_op, _parameter, _input!, _output, outputGradient, _inputGradient.SetRows(outputGradient.Rows));
        return _inputGradient;
    }
}

[DeviceHalf(typeof(Relu<>))]
internal sealed class ReluDevice<T>(Relu<T> layer, DeviceContext<T> context)
    : ActivationDevice<T>(layer, context, ElementOp.Relu) where T : unmanaged, IFloatingPointIeee754<T>;

[DeviceHalf(typeof(LeakyRelu<>))]
internal sealed class LeakyReluDevice<T>(LeakyRelu<T> layer, DeviceContext<T> context)
    : ActivationDevice<T>(layer, context, ElementOp.LeakyRelu, layer.NegativeSlope) where T : unmanaged, IFloatingPointIeee754<T>;

[DeviceHalf(typeof(Sigmoid<>))]
internal sealed class SigmoidDevice<T>(Sigmoid<T> layer, DeviceContext<T> context)
    : ActivationDevice<T>(layer, context, ElementOp.Sigmoid) where T : unmanaged, IFloatingPointIeee754<T>;

[DeviceHalf(typeof(Tanh<>))]
internal sealed class TanhDevice<T>(Tanh<T> layer, DeviceContext<T> context)
    : ActivationDevice<T>(layer, context, ElementOp.Tanh) where T : unmanaged, IFloatingPointIeee754<T>;

[DeviceHalf(typeof(Gelu<>))]
internal sealed class GeluDevice<T>(Gelu<T> layer, DeviceContext<T> context)
    : ActivationDevice<T>(layer, context, layer.Approximate == GeluApproximation.None ? ElementOp.GeluExact : ElementOp.Gelu) where T : unmanaged, IFloatingPointIeee754<T>;

[DeviceHalf(typeof(Scale<>))]
internal sealed class ScaleDevice<T>(Scale<T> layer, DeviceContext<T> context)
    : ActivationDevice<T>(layer, context, ElementOp.Scale, layer.Factor) where T : unmanaged, IFloatingPointIeee754<T>;

/// <summary><see cref="Softmax{T}"/> on the device, row by row (a final softmax under cross-entropy is fused into the loss instead).</summary>
[DeviceHalf(typeof(Softmax<>))]
internal sealed class SoftmaxDevice<T> : DeviceLayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly DeviceMatrix<T> _output, _inputGradient;

    public SoftmaxDevice(Softmax<T> layer, DeviceContext<T> context) : base(context)
    {
        _output = NewMatrix(layer.OutputSize);
        _inputGradient = NewMatrix(layer.InputSize);
    }

    public override DeviceMatrix<T> Forward(DeviceMatrix<T> input)
    {
        Run.RowSoftmax(input, _output.SetRows(input.Rows));
        return _output;
    }

    public override DeviceMatrix<T> Backward(DeviceMatrix<T> outputGradient)
    {
        Run.RowSoftmaxGradient(_output, outputGradient, _inputGradient.SetRows(outputGradient.Rows));
        return _inputGradient;
    }
}
