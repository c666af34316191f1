using System.Numerics;
using ILGPU;
using ILGPU.Runtime;
using ScratchNet.Compute;

namespace ScratchNet.Gpu.Kernels;

/// <summary>
/// What the layers' device halves are written in: a strided GEMM with offsets and leading dimensions (through
/// sub-views), element-wise operators, row and column reductions, the losses, and deterministic sums. Each call
/// queues a kernel on the device's stream; nothing waits for the device except the downloads.
/// </summary>
internal sealed class Primitives<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    // The partial sums of Sum: enough threads to fill a GPU, few enough for one thread to finish them.
    private const int SumParts = 1024;

    private static readonly T Half = T.CreateChecked(0.5), Cubic = T.CreateChecked(0.044715), Root2OverPi = T.CreateChecked(Math.Sqrt(2 / Math.PI));

    private readonly GpuDevice _device;
    private readonly MemoryBuffer1D<T, Stride1D.Dense> _partial;
    private readonly MemoryBuffer1D<T, Stride1D.Dense> _empty;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, GemmShape, T, T> _gemm;
    private readonly Action<KernelConfig, ArrayView<T>, ArrayView<T>, ArrayView<T>, GemmShape, T, T, int> _gemmTiled;
    private readonly int _tileSide;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, int> _addRowVector;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, int, int, T> _columnSums;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, int, T, T, T, T, ArrayView<T>> _map;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, T, T, T, T, ArrayView<T>> _mapGradient;
    private readonly MemoryBuffer1D<T, Stride1D.Dense> _normalSeries;   // the exact GELU's: NormalCdf's coefficients, then 1/√2, 1/√(2π) and the largest z
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>> _multiply, _add;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, T> _axpy;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, int> _rowSoftmax;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, int> _rowSoftmaxGradient;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, T, int, T, T, T> _crossEntropy, _squaredError;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, long, long, int> _partialSums;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, int, int> _finishSum;

    public Primitives(GpuDevice device)
    {
        _device = device;
        var a = device.Accelerator;
        _partial = device.Allocate<T>(SumParts);
        _empty = device.Allocate<T>(1);
        _gemm = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, GemmShape, T, T>(PrimitiveKernels.Gemm);
        _gemmTiled = a.LoadStreamKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, GemmShape, T, T, int>(PrimitiveKernels.GemmTiled);
        _tileSide = Math.Min(PrimitiveKernels.MaxTileSide, (int)Math.Sqrt(a.MaxNumThreadsPerGroup));
        _addRowVector = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, int>(PrimitiveKernels.AddRowVector);
        _columnSums = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, int, int, T>(PrimitiveKernels.ColumnSums);
        _map = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, int, T, T, T, T, ArrayView<T>>(PrimitiveKernels.Map);
        _mapGradient = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, T, T, T, T, ArrayView<T>>(PrimitiveKernels.MapGradient);
        T[] series = [.. NormalCdf<T>.Series, NormalCdf<T>.InverseRoot2, NormalCdf<T>.DensityScale, NormalCdf<T>.LargestZ];
        _normalSeries = device.Allocate<T>(series.Length);
        _normalSeries.View.CopyFromCPU(a.DefaultStream, series);
        _multiply = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>>(PrimitiveKernels.Multiply);
        _add = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>>(PrimitiveKernels.Add);
        _axpy = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, T>(PrimitiveKernels.Axpy);
        _rowSoftmax = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, int>(PrimitiveKernels.RowSoftmax);
        _rowSoftmaxGradient = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, int>(PrimitiveKernels.RowSoftmaxGradient);
        _crossEntropy = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, T, int, T, T, T>(PrimitiveKernels.SoftmaxCrossEntropy);
        _squaredError = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, int, T, int, T, T, T>(PrimitiveKernels.SquaredError);
        _partialSums = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, long, long, int>(PrimitiveKernels.PartialSums);
        _finishSum = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, int, int>(PrimitiveKernels.FinishSum);
    }

    /// <summary>The device these primitives run on.</summary>
    public GpuDevice Device => _device;

    /// <summary>
    /// C (m, n) = α·op(A)·op(B) + β·C, row-major with leading dimensions lda, ldb, ldc; op(A) is (m, k), op(B) (k, n).
    /// β = 0 overwrites C without reading it.
    /// </summary>
    public void Gemm(bool transposeA, bool transposeB, int m, int n, int k, T alpha, ArrayView<T> a, int lda, ArrayView<T> b, int ldb, T beta, ArrayView<T> c, int ldc)
    {
        if (m == 0 || n == 0) return;
        var shape = new GemmShape(m, n, k, lda, ldb, ldc, transposeA, transposeB);
        if (Tiled ?? _tileSide >= 4)
        {
            int groups = checked(((m + _tileSide - 1) / _tileSide) * ((n + _tileSide - 1) / _tileSide));
            _gemmTiled(new KernelConfig(groups, _tileSide * _tileSide), a, b, c, shape, alpha, beta, _tileSide);
        }
        else
        {
            _gemm(checked(m * n), a, b, c, shape, alpha, beta);
        }
    }

    /// <summary>Forces the tiled GEMM (true) or the one-thread-per-element GEMM (false); null chooses (tiled when groups hold 4 × 4 threads).</summary>
    internal bool? Tiled { get; set; }

    /// <summary>x[r, c] += vector[c] over the rows of x.</summary>
    public void AddRowVector(DeviceMatrix<T> x, ArrayView<T> vector)
    {
        if (x.Length > 0) _addRowVector(checked((int)x.Length), x.View, vector, x.Cols);
    }

    /// <summary>sums[c] = keep·sums[c] + Σ_r x[r, c] (keep = 0: overwritten; 1: accumulated).</summary>
    public void ColumnSums(DeviceMatrix<T> x, ArrayView<T> sums, T keep)
    {
        if (x.Cols > 0) _columnSums(x.Cols, x.View, sums, x.Rows, x.Cols, keep);
    }

    /// <summary>y = f(x) element by element.</summary>
    public void Map(ElementOp op, T parameter, DeviceMatrix<T> x, DeviceMatrix<T> y)
    {
        if (x.Length > 0) _map(checked((int)x.Length), x.View, y.View, (int)op, parameter, Half, Cubic, Root2OverPi, _normalSeries.View);
    }

    /// <summary>dx = dy·f′ element by element, f′ from the output y or (GELU) the input x.</summary>
    public void MapGradient(ElementOp op, T parameter, DeviceMatrix<T> x, DeviceMatrix<T> y, DeviceMatrix<T> dy, DeviceMatrix<T> dx)
    {
        if (dy.Length > 0) _mapGradient(checked((int)dy.Length), x.View, y.View, dy.View, dx.View, (int)op, parameter, Half, Cubic, Root2OverPi, _normalSeries.View);
    }

    /// <summary>y = a ⊙ b over the first <paramref name="length"/> elements.</summary>
    public void Multiply(ArrayView<T> a, ArrayView<T> b, ArrayView<T> y, long length)
    {
        if (length > 0) _multiply(checked((int)length), a, b, y);
    }

    /// <summary>y = a + b over the first <paramref name="length"/> elements.</summary>
    public void Add(ArrayView<T> a, ArrayView<T> b, ArrayView<T> y, long length)
    {
        if (length > 0) _add(checked((int)length), a, b, y);
    }

    /// <summary>y += α·x over the first <paramref name="length"/> elements.</summary>
    public void Axpy(ArrayView<T> x, ArrayView<T> y, T alpha, long length)
    {
        if (length > 0) _axpy(checked((int)length), x, y, alpha);
    }

    /// <summary>Row-wise softmax.</summary>
    public void RowSoftmax(DeviceMatrix<T> x, DeviceMatrix<T> y)
    {
        if (x.Rows > 0) _rowSoftmax(x.Rows, x.View, y.View, x.Cols);
    }

    /// <summary>Softmax's backward from its output y.</summary>
    public void RowSoftmaxGradient(DeviceMatrix<T> y, DeviceMatrix<T> dy, DeviceMatrix<T> dx)
    {
        if (y.Rows > 0) _rowSoftmaxGradient(y.Rows, y.View, dy.View, dx.View, y.Cols);
    }

    /// <summary>
    /// Softmax cross-entropy per row into rowLoss and rowCorrect, against the targets smoothed by ε = <paramref name="labelSmoothing"/>
    /// (y' = (1 − ε)·y + ε/k, as the host's loss); the logits' gradient (p·Σy' − y')·scale unless null.
    /// </summary>
    public void SoftmaxCrossEntropy(DeviceMatrix<T> logits, DeviceMatrix<T> targets, T scale, DeviceMatrix<T>? gradient, DeviceMatrix<T> rowLoss, DeviceMatrix<T> rowCorrect,
                                    double labelSmoothing = 0)
    {
        // The host's constants, converted as it converts them: keep = 1 − ε, spread = ε / k in the element type.
        T keep = T.CreateChecked(1 - labelSmoothing), spread = T.CreateChecked(labelSmoothing) / T.CreateChecked(logits.Cols);
        if (logits.Rows > 0)
            _crossEntropy(logits.Rows, logits.View, targets.View, gradient?.View ?? _empty.View, rowLoss.View, rowCorrect.View, logits.Cols, scale, gradient is null ? 0 : 1,
                          keep, spread, T.CreateChecked(logits.Cols));
    }

    /// <summary>Σ (o − y)² per row into rowLoss, the argmax match into rowCorrect; (o − y)·scale into the gradient unless null.</summary>
    public void SquaredError(DeviceMatrix<T> output, DeviceMatrix<T> targets, T scale, DeviceMatrix<T>? gradient, DeviceMatrix<T> rowLoss, DeviceMatrix<T> rowCorrect)
    {
        if (output.Rows > 0)
            _squaredError(output.Rows, output.View, targets.View, gradient?.View ?? _empty.View, rowLoss.View, rowCorrect.View, output.Cols, scale, gradient is null ? 0 : 1,
                          T.One, T.Zero, T.Zero);
    }

    /// <summary>sums[slot] += Σ values[0..count) (of the squares, when <paramref name="squares"/>), in a fixed order.</summary>
    public void Sum(ArrayView<T> values, long count, bool squares, ArrayView<T> sums, int slot)
    {
        if (count == 0) return;
        long chunk = (count + SumParts - 1) / SumParts;
        int parts = (int)((count + chunk - 1) / chunk);
        _partialSums(parts, values, _partial.View, count, chunk, squares ? 1 : 0);
        _finishSum(1, _partial.View, sums, parts, slot);
    }
}
