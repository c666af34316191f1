using System.Numerics;
using ILGPU;
using ILGPU.Runtime;
using ScratchNet.Layers;

namespace ScratchNet.Gpu.Layers;

/// <summary>
/// <see cref="BatchNorm1d{T}"/> on the device, with kernels of its own: one thread per feature for the batch
/// statistics (two passes over the rows, as the host) and the backward sums, one per element for the rest.
/// </summary>
[DeviceHalf(typeof(BatchNorm1d<>))]
internal sealed class BatchNorm1dDevice<T> : DeviceLayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly BatchNorm1d<T> _layer;
    private readonly DeviceParameter<T> _weight, _bias;
    private readonly MemoryBuffer1D<T, Stride1D.Dense> _mean, _invStd, _runningMean, _runningVariance, _sumDy, _sumDyXHat;
    private readonly DeviceMatrix<T> _normalized, _output, _inputGradient;
    private readonly T _momentum, _epsilon;
    private bool _batchStatistics;

    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, StatisticsConstants> _statistics;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int> _normalize;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int> _sums;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, T, int> _inputGradientKernel;

    public BatchNorm1dDevice(BatchNorm1d<T> layer, DeviceContext<T> context) : base(context)
    {
        _layer = layer;
        _weight = context.Parameter(layer.Weight);
        _bias = context.Parameter(layer.Bias);
        int size = layer.InputSize;
        var device = context.Device;
        _mean = context.Track(device.Allocate<T>(size));
        _invStd = context.Track(device.Allocate<T>(size));
        _runningMean = context.Track(device.Allocate<T>(size));
        _runningVariance = context.Track(device.Allocate<T>(size));
        _sumDy = context.Track(device.Allocate<T>(size));
        _sumDyXHat = context.Track(device.Allocate<T>(size));
        _normalized = NewMatrix(size);
        _output = NewMatrix(size);
        _inputGradient = NewMatrix(size);
        _momentum = T.CreateChecked(layer.Momentum);
        _epsilon = T.CreateChecked(layer.Epsilon);
        _statistics = device.Kernel("batchnorm1d.statistics", a =>
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, StatisticsConstants>(Statistics));
        _normalize = device.Kernel("batchnorm1d.normalize", a =>
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int>(Normalize));
        _sums = device.Kernel("batchnorm1d.sums", a =>
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int>(GradientSums));
        _inputGradientKernel = device.Kernel("batchnorm1d.input-gradient", a =>
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, T, int>(InputGradient));
        CopyFromHost();
    }

    public override DeviceMatrix<T> Forward(DeviceMatrix<T> input)
    {
        int batch = input.Rows, size = input.Cols;
        _batchStatistics = _layer.Training;
        if (_batchStatistics && batch < 2)
            throw new ArgumentException($"{_layer}: training needs more than one row per batch to estimate a variance.", nameof(input));
        T count = T.CreateChecked(batch);
        var constants = new StatisticsConstants(
            _batchStatistics ? 1 : 0, count, T.One - _momentum, _momentum, _batchStatistics ? _momentum * count / (count - T.One) : T.Zero, _epsilon);
        _statistics(size, input.View, _mean.View, _invStd.View, _runningMean.View, _runningVariance.View, batch, size, constants);
        _normalized.SetRows(batch);
        _output.SetRows(batch);
        if (input.Length > 0)
            _normalize(checked((int)input.Length), input.View, _mean.View, _invStd.View, _weight.Value, _bias.Value, _normalized.View, _output.View, size);
        return _output;
    }

    public override DeviceMatrix<T> Backward(DeviceMatrix<T> outputGradient)
    {
        int batch = outputGradient.Rows, size = outputGradient.Cols;
        _sums(size, outputGradient.View, _normalized.View, _sumDy.View, _sumDyXHat.View, _bias.Gradient, _weight.Gradient, batch, size);
        _inputGradient.SetRows(batch);
        if (outputGradient.Length > 0)
            _inputGradientKernel(checked((int)outputGradient.Length), outputGradient.View, _normalized.View, _sumDy.View, _sumDyXHat.View, _weight.Value, _invStd.View,
                                 _inputGradient.View, size, T.CreateChecked(batch), _batchStatistics ? 1 : 0);
        return _inputGradient;
    }

    public override void CopyToHost()
    {
        _runningMean.View.BaseView.CopyToCPU(_layer.RunningMean.Span);
        _runningVariance.View.BaseView.CopyToCPU(_layer.RunningVariance.Span);
    }

    public override void CopyFromHost()
    {
        _runningMean.View.BaseView.CopyFromCPU(_layer.RunningMean.Span);
        _runningVariance.View.BaseView.CopyFromCPU(_layer.RunningVariance.Span);
    }

    /// <summary>The statistics kernel's scalars, computed on the host (kernels cannot convert between element types).</summary>
    internal readonly struct StatisticsConstants(int training, T count, T keep, T momentum, T unbias, T epsilon)
    {
        public readonly int Training = training;
        public readonly T Count = count, Keep = keep, Momentum = momentum, Unbias = unbias, Epsilon = epsilon;
    }

    // Per feature j: in training the batch mean and biased variance (mean first, then Σ (x − mean)², as the host),
    // the running estimates moved by the momentum (unbiased variance); s = 1/√(variance + ε) of the batch's or the
    // running variance; mean[j] is what normalising subtracts.
    private static void Statistics(Index1D j, ArrayView<T> x, ArrayView<T> mean, ArrayView<T> invStd, ArrayView<T> runningMean, ArrayView<T> runningVariance,
                                   int rows, int cols, StatisticsConstants c)
    {
        if (c.Training == 0)
        {
            mean[j] = runningMean[j];
            invStd[j] = T.One / T.Sqrt(runningVariance[j] + c.Epsilon);
            return;
        }
        T sum = T.Zero;
        for (int r = 0; r < rows; r++) sum += x[(long)r * cols + j];
        T m = sum / c.Count;
        T squares = T.Zero;
        for (int r = 0; r < rows; r++)
        {
            T d = x[(long)r * cols + j] - m;
            squares += d * d;
        }
        T variance = squares / c.Count;
        runningMean[j] = c.Keep * runningMean[j] + c.Momentum * m;
        runningVariance[j] = c.Keep * runningVariance[j] + c.Unbias * variance;
        mean[j] = m;
        invStd[j] = T.One / T.Sqrt(variance + c.Epsilon);
    }

    // x̂ = (x − mean)·s; y = x̂·γ + β.
    private static void Normalize(Index1D e, ArrayView<T> x, ArrayView<T> mean, ArrayView<T> invStd, ArrayView<T> gamma, ArrayView<T> beta,
                                  ArrayView<T> normalized, ArrayView<T> output, int cols)
    {
        int j = e % cols;
        T xHat = (x[e] - mean[j]) * invStd[j];
        normalized[e] = xHat;
        output[e] = xHat * gamma[j] + beta[j];
    }

    // Per feature: Σ dy and Σ dy·x̂ over the rows, added into dβ and dγ.
    private static void GradientSums(Index1D j, ArrayView<T> dy, ArrayView<T> normalized, ArrayView<T> sumDy, ArrayView<T> sumDyXHat,
                                     ArrayView<T> biasGradient, ArrayView<T> weightGradient, int rows, int cols)
    {
        T a = T.Zero, b = T.Zero;
        for (int r = 0; r < rows; r++)
        {
            long e = (long)r * cols + j;
            a += dy[e];
            b += dy[e] * normalized[e];
        }
        sumDy[j] = a;
        sumDyXHat[j] = b;
        biasGradient[j] += a;
        weightGradient[j] += b;
    }

    // dx = γ·s/B·(B·dy − Σ dy − x̂·Σ dy·x̂) with batch statistics, else dy·γ·s.
    private static void InputGradient(Index1D e, ArrayView<T> dy, ArrayView<T> normalized, ArrayView<T> sumDy, ArrayView<T> sumDyXHat, ArrayView<T> gamma,
                                      ArrayView<T> invStd, ArrayView<T> dx, int cols, T count, int batchStatistics)
    {
        int j = e % cols;
        dx[e] = batchStatistics != 0
            ? gamma[j] * invStd[j] / count * (count * dy[e] - sumDy[j] - normalized[e] * sumDyXHat[j])
            : dy[e] * gamma[j] * invStd[j];
    }
}
