using System.Numerics;
using ScratchNet.Layers;

namespace ScratchNet.Gpu.Layers;

/// <summary>
/// <see cref="Dropout{T}"/> on the device. The host layer draws each mask from its own generator, the device
/// multiplies by it: the masks are those the CPU would draw, and a checkpoint's generator state resumes them.
/// </summary>
[DeviceHalf(typeof(Dropout<>))]
internal sealed class DropoutDevice<T> : DeviceLayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Dropout<T> _layer;
    private readonly DeviceMatrix<T> _mask, _output, _inputGradient;
    private bool _masked;
    private DeviceMatrix<T>? _input;

    public DropoutDevice(Dropout<T> layer, DeviceContext<T> context) : base(context)
    {
        _layer = layer;
        _mask = NewMatrix(layer.InputSize);
        _output = NewMatrix(layer.OutputSize);
        _inputGradient = NewMatrix(layer.InputSize);
    }

    public override DeviceMatrix<T> Forward(DeviceMatrix<T> input)
    {
        _masked = _layer.Training && _layer.Rate > 0;
        _input = input;
        if (!_masked) return input;
        _mask.Upload(_layer.DrawMask(input.Rows));
        Run.Multiply(input.View, _mask.View, _output.SetRows(input.Rows).View, input.Length);
        return _output;
    }

    public override DeviceMatrix<T> Backward(DeviceMatrix<T> outputGradient)
    {
        if (!_masked) return outputGradient;
        Run.Multiply(outputGradient.View, _mask.View, _inputGradient.SetRows(outputGradient.Rows).View, outputGradient.Length);
        return _inputGradient;
    }
}
