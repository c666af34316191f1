using System.Numerics;
using ScratchNet.Layers;

namespace ScratchNet.Gpu.Layers;

/// <summary><see cref="Sequential{T}"/> on the device: its children's halves in order.</summary>
[DeviceHalf(typeof(Sequential<>))]
internal sealed class SequentialDevice<T> : DeviceLayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly DeviceLayer<T>[] _children;

    public SequentialDevice(Sequential<T> layer, DeviceContext<T> context) : base(context) =>
        _children = [.. layer.Children.Select(c => Create(c.Value, c.Name, context))];

    public override DeviceMatrix<T> Forward(DeviceMatrix<T> input)
    {
        foreach (var child in _children) input = child.Forward(input);
        return input;
    }

    public override DeviceMatrix<T> Backward(DeviceMatrix<T> outputGradient)
    {
        for (int i = _children.Length - 1; i >= 0; i--) outputGradient = _children[i].Backward(outputGradient);
        return outputGradient;
    }

    public override void CopyToHost()
    {
        foreach (var child in _children) child.CopyToHost();
    }

    public override void CopyFromHost()
    {
        foreach (var child in _children) child.CopyFromHost();
    }

    public override void Dispose()
    {
        foreach (var child in _children) child.Dispose();
    }
}

/// <summary><see cref="Residual{T}"/> on the device: y = body(x) + (projection(x) or x); dx = body′ + skip′.</summary>
[DeviceHalf(typeof(Residual<>))]
internal sealed class ResidualDevice<T> : DeviceLayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly DeviceLayer<T> _body;
    private readonly DeviceLayer<T>? _projection;
    private readonly DeviceMatrix<T> _output, _inputGradient;

    public ResidualDevice(Residual<T> layer, DeviceContext<T> context) : base(context)
    {
        _body = Create(layer.Body, "body", context);
        _projection = layer.Projection is null ? null : Create(layer.Projection, "projection", context);
        _output = NewMatrix(layer.OutputSize);
        _inputGradient = NewMatrix(layer.InputSize);
    }

    public override DeviceMatrix<T> Forward(DeviceMatrix<T> input)
    {
        var body = _body.Forward(input);
        var skip = _projection?.Forward(input) ?? input;
        Run.Add(body.View, skip.View, _output.SetRows(input.Rows).View, body.Length);
        return _output;
    }

    public override DeviceMatrix<T> Backward(DeviceMatrix<T> outputGradient)
    {
        var body = _body.Backward(outputGradient);
        var skip = _projection?.Backward(outputGradient) ?? outputGradient;
        Run.Add(body.View, skip.View, _inputGradient.SetRows(outputGradient.Rows).View, body.Length);
        return _inputGradient;
    }

    public override void CopyToHost()
    {
        _body.CopyToHost();
        _projection?.CopyToHost();
    }

    public override void CopyFromHost()
    {
        _body.CopyFromHost();
        _projection?.CopyFromHost();
    }

    public override void Dispose()
    {
        _body.Dispose();
        _projection?.Dispose();
    }
}
