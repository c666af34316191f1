using System.Numerics;
using ILGPU;
using ILGPU.Runtime;
using ScratchNet.Layers;

namespace ScratchNet.Gpu.Layers;

/// <summary>
/// <see cref="BatchNorm2d{T}"/> on the device. Each per-channel sum over the batch's B·H·W values is taken in two fixed-order
/// levels, one thread per (sample, channel) plane and then one per channel over the samples: the mean first, then
/// Σ (x − mean)², as the host. γ and β are the parameters' device views; a frozen γ is the host buffer's copy, and without
/// affine γ = 1 and β = 0 are constant buffers.
/// </summary>
[DeviceHalf(typeof(BatchNorm2d<>))]
internal sealed class BatchNorm2dDevice<T> : DeviceLayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly BatchNorm2d<T> _layer;
    private readonly int _channels, _plane;
    private readonly ArrayView<T> _gamma, _beta, _gammaGradient, _betaGradient;
    private readonly bool _trainsGamma, _trainsBeta;
    private readonly MemoryBuffer1D<T, Stride1D.Dense>? _fixedGamma;   // a frozen γ, or ones without affine
    private readonly MemoryBuffer1D<T, Stride1D.Dense> _mean, _invStd, _runningMean, _runningVariance, _sumDy, _sumDyXHat;
    private readonly DeviceMatrix<T> _partial, _partialXHat;   // (B, C): per-plane sums
    private readonly DeviceMatrix<T> _normalized, _output, _inputGradient;
    private readonly T _momentum, _epsilon;
    private bool _batchStatistics;

    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int> _planeSums;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, int, int, T> _finishMean;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, BatchNorm1dDevice<T>.StatisticsConstants> _finishVariance;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int> _normalize;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int> _gradientPlaneSums;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int> _finishGradientSums;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, InputGradientConstants> _inputGradientKernel;

    public BatchNorm2dDevice(BatchNorm2d<T> layer, DeviceContext<T> context) : base(context)
    {
        _layer = layer;
        var device = context.Device;
        _channels = layer.InputShape[0];
        _plane = layer.InputShape[1] * layer.InputShape[2];
        MemoryBuffer1D<T, Stride1D.Dense> Buffer() => context.Track(device.Allocate<T>(_channels));
        var unused = Buffer();   // the gradient a missing parameter would have
        if (layer.Weight is { } weight && !layer.FrozenWeight)
        {
            var view = context.Parameter(weight);
            (_gamma, _gammaGradient, _trainsGamma) = (view.Value, view.Gradient, true);
        }
        else
        {
            _fixedGamma = Buffer();
            (_gamma, _gammaGradient) = (_fixedGamma.View, unused.View);
        }
        if (layer.Bias is { } bias)
        {
            var view = context.Parameter(bias);
            (_beta, _betaGradient, _trainsBeta) = (view.Value, view.Gradient, true);
        }
        else
        {
            (_beta, _betaGradient) = (Buffer().View, unused.View);   // β = 0
        }
        (_mean, _invStd, _runningMean, _runningVariance, _sumDy, _sumDyXHat) = (Buffer(), Buffer(), Buffer(), Buffer(), Buffer(), Buffer());
        _partial = NewMatrix(_channels);
        _partialXHat = NewMatrix(_channels);
        _normalized = NewMatrix(layer.InputSize);
        _output = NewMatrix(layer.InputSize);
        _inputGradient = NewMatrix(layer.InputSize);
        _momentum = T.CreateChecked(layer.Momentum);
        _epsilon = T.CreateChecked(layer.Epsilon);
        _planeSums = device.Kernel("batchnorm2d.plane-sums", a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int>(PlaneSums));
        _finishMean = device.Kernel("batchnorm2d.finish-mean", a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, int, int, T>(FinishMean));
        _finishVariance = device.Kernel("batchnorm2d.finish-variance", a =>
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, BatchNorm1dDevice<T>.StatisticsConstants>(FinishVariance));
        _normalize = device.Kernel("batchnorm2d.normalize", a =>
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int>(Normalize));
        _gradientPlaneSums = device.Kernel("batchnorm2d.gradient-plane-sums", a =>
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int>(GradientPlaneSums));
        _finishGradientSums = device.Kernel("batchnorm2d.finish-gradient-sums", a =>
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, int, int>(FinishGradientSums));
        _inputGradientKernel = device.Kernel("batchnorm2d.input-gradient", a =>
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, InputGradientConstants>(InputGradient));
        CopyFromHost();
    }

    public override DeviceMatrix<T> Forward(DeviceMatrix<T> input)
    {
        int batch = input.Rows;
        _batchStatistics = _layer.Training;
        long values = (long)batch * _plane;
        if (_batchStatistics && values < 2)
            throw new ArgumentException($"{_layer}: training needs more than one value per channel to estimate a variance.", nameof(input));
        _normalized.SetRows(batch);
        _output.SetRows(batch);
        if (batch == 0) return _output;
        T count = T.CreateChecked(values);
        var constants = new BatchNorm1dDevice<T>.StatisticsConstants(
            _batchStatistics ? 1 : 0, count, T.One - _momentum, _momentum, _batchStatistics ? _momentum * count / (count - T.One) : T.Zero, _epsilon);
        _partial.SetRows(batch);
        if (_batchStatistics)
        {
            _planeSums(batch * _channels, input.View, _mean.View, _partial.View, _plane, _channels, 0);
            _finishMean(_channels, _partial.View, _mean.View, batch, _channels, count);
            _planeSums(batch * _channels, input.View, _mean.View, _partial.View, _plane, _channels, 1);
        }
        _finishVariance(_channels, _partial.View, _mean.View, _invStd.View, _runningMean.View, _runningVariance.View, batch, _channels, constants);
        _normalize(checked((int)input.Length), input.View, _mean.View, _invStd.View, _gamma, _beta, _normalized.View, _output.View, _plane, _channels);
        return _output;
    }

    public override DeviceMatrix<T> Backward(DeviceMatrix<T> outputGradient)
    {
        int batch = outputGradient.Rows;
        _inputGradient.SetRows(batch);
        if (batch == 0) return _inputGradient;
        _partial.SetRows(batch);
        _partialXHat.SetRows(batch);
        _gradientPlaneSums(batch * _channels, outputGradient.View, _normalized.View, _partial.View, _partialXHat.View, _plane, _channels);
        _finishGradientSums(_channels, _partial.View, _partialXHat.View, _sumDy.View, _sumDyXHat.View, _betaGradient, _gammaGradient, batch, _channels,
                            (_trainsBeta ? 1 : 0) | (_trainsGamma ? 2 : 0));
        var constants = new InputGradientConstants(_plane, _channels, T.CreateChecked((long)batch * _plane), _batchStatistics ? 1 : 0);
        _inputGradientKernel(checked((int)outputGradient.Length), outputGradient.View, _normalized.View, _sumDy.View, _sumDyXHat.View, _gamma, _invStd.View,
                             _inputGradient.View, constants);
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
        if (_fixedGamma is null) return;
        if (_layer.Weight is { } frozen) _fixedGamma.View.BaseView.CopyFromCPU(frozen.Value.Span);
        else _fixedGamma.View.BaseView.CopyFromCPU(Enumerable.Repeat(T.One, _channels).ToArray());
    }

    internal readonly struct InputGradientConstants(int plane, int channels, T count, int batchStatistics)
    {
        public readonly int Plane = plane, Channels = channels, BatchStatistics = batchStatistics;
        public readonly T Count = count;
    }

    // partial[n, c] = Σ_p x[n, c, p], or with centred = 1 Σ_p (x[n, c, p] − mean[c])².
    private static void PlaneSums(Index1D e, ArrayView<T> x, ArrayView<T> mean, ArrayView<T> partial, int plane, int channels, int centred)
    {
        long start = (long)e.X * plane;
        T sum = T.Zero;
        if (centred != 0)
        {
            T m = mean[e % channels];
            for (int p = 0; p < plane; p++)
            {
                T d = x[start + p] - m;
                sum += d * d;
            }
        }
        else
        {
            for (int p = 0; p < plane; p++) sum += x[start + p];
        }
        partial[e] = sum;
    }

    private static void FinishMean(Index1D c, ArrayView<T> partial, ArrayView<T> mean, int batch, int channels, T count)
    {
        T sum = T.Zero;
        for (int n = 0; n < batch; n++) sum += partial[(long)n * channels + c];
        mean[c] = sum / count;
    }

    // In training: the biased variance from the centred sums, the running estimates moved (unbiased variance), s of the batch;
    // in inference: the running estimates' mean and s.
    private static void FinishVariance(Index1D c, ArrayView<T> partial, ArrayView<T> mean, ArrayView<T> invStd, ArrayView<T> runningMean, ArrayView<T> runningVariance,
                                       int batch, int channels, BatchNorm1dDevice<T>.StatisticsConstants k)
    {
        if (k.Training == 0)
        {
            mean[c] = runningMean[c];
            invStd[c] = T.One / T.Sqrt(runningVariance[c] + k.Epsilon);
            return;
        }
        T squares = T.Zero;
        for (int n = 0; n < batch; n++) squares += partial[(long)n * channels + c];
        T variance = squares / k.Count;
        runningMean[c] = k.Keep * runningMean[c] + k.Momentum * mean[c];
        runningVariance[c] = k.Keep * runningVariance[c] + k.Unbias * variance;
        invStd[c] = T.One / T.Sqrt(variance + k.Epsilon);
    }

    // x̂ = (x − mean)·s; y = x̂·γ + β.
    private static void Normalize(Index1D e, ArrayView<T> x, ArrayView<T> mean, ArrayView<T> invStd, ArrayView<T> gamma, ArrayView<T> beta,
                                  ArrayView<T> normalized, ArrayView<T> output, int plane, int channels)
    {
        int c = (int)(e / plane % channels);
        T xHat = (x[e] - mean[c]) * invStd[c];
        normalized[e] = xHat;
        output[e] = xHat * gamma[c] + beta[c];
    }

    // Per (sample, channel) plane: Σ dy and Σ dy·x̂.
    private static void GradientPlaneSums(Index1D e, ArrayView<T> dy, ArrayView<T> normalized, ArrayView<T> sumDy, ArrayView<T> sumDyXHat, int plane, int channels)
    {
        long start = (long)e.X * plane;
        T a = T.Zero, b = T.Zero;
        for (int p = 0; p < plane; p++)
        {
            a += dy[start + p];
            b += dy[start + p] * normalized[start + p];
        }
        sumDy[e] = a;
        sumDyXHat[e] = b;
    }

    // Per channel, over the samples: Σ dy into dβ (trains bit 1) and Σ dy·x̂ into dγ (bit 2).
    private static void FinishGradientSums(Index1D c, ArrayView<T> partialDy, ArrayView<T> partialDyXHat, ArrayView<T> sumDy, ArrayView<T> sumDyXHat,
                                           ArrayView<T> biasGradient, ArrayView<T> weightGradient, int batch, int channels, int trains)
    {
        T a = T.Zero, b = T.Zero;
        for (int n = 0; n < batch; n++)
        {
            a += partialDy[(long)n * channels + c];
            b += partialDyXHat[(long)n * channels + c];
        }
        sumDy[c] = a;
        sumDyXHat[c] = b;
        if ((trains & 1) != 0) biasGradient[c] += a;
        if ((trains & 2) != 0) weightGradient[c] += b;
    }

    // dx = γ·s·dy − γ·s/M·Σ dy − x̂·(γ·s/M·Σ dy·x̂) with batch statistics (M = B·H·W), else γ·s·dy.
    private static void InputGradient(Index1D e, ArrayView<T> dy, ArrayView<T> normalized, ArrayView<T> sumDy, ArrayView<T> sumDyXHat, ArrayView<T> gamma,
                                      ArrayView<T> invStd, ArrayView<T> dx, InputGradientConstants k)
    {
        int c = (int)(e / k.Plane % k.Channels);
        T scale = gamma[c] * invStd[c];
        if (k.BatchStatistics == 0)
        {
            dx[e] = dy[e] * scale;
            return;
        }
        T shift = scale / k.Count * sumDy[c], slope = scale / k.Count * sumDyXHat[c];
        dx[e] = scale * dy[e] - shift - normalized[e] * slope;
    }
}
