using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace ScratchNet.Gpu;

/// <summary>
/// A (rows, cols) row-major matrix in device memory, one sample per row, as the host's <see cref="Matrix{T}"/>: a
/// layer's device half owns its output and input-gradient matrices and reuses them from batch to batch, growing
/// them only when a batch has more rows than any before.
/// </summary>
internal sealed class DeviceMatrix<T>(GpuDevice device, int cols) : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private MemoryBuffer1D<T, Stride1D.Dense>? _buffer;

    /// <summary>Rows of the current batch.</summary>
    public int Rows { get; private set; }

    /// <summary>Elements per row.</summary>
    public int Cols { get; } = cols;

    /// <summary>Rows · cols.</summary>
    public long Length => (long)Rows * Cols;

    /// <summary>The current rows' elements.</summary>
    public ArrayView<T> View => _buffer is null ? default : _buffer.View.SubView(0, Math.Max(1, Length));

    /// <summary>Gives the matrix <paramref name="rows"/> rows; the contents are undefined when it grows.</summary>
    public DeviceMatrix<T> SetRows(int rows)
    {
        long needed = Math.Max(1, (long)rows * Cols);
        if (_buffer is null || _buffer.Length < needed)
        {
            // Kernels queued earlier may still read the old buffer.
            device.Synchronize();
            _buffer?.Dispose();
            _buffer = device.Allocate<T>(needed);
        }
        Rows = rows;
        return this;
    }

    /// <summary>Copies <paramref name="source"/> in, taking its row count.</summary>
    public DeviceMatrix<T> Upload(Matrix<T> source)
    {
        source.RequireCols(Cols, "Device upload");
        SetRows(source.Rows);
        // On the stream the kernels run on: a step queued before still reads the old contents.
        if (source.Length > 0) View.SubView(0, source.Length).CopyFromCPU(device.Accelerator.DefaultStream, source.Span);
        return this;
    }

    /// <summary>Waits for the queued work and copies the matrix into <paramref name="target"/>, of the same shape.</summary>
    public void Download(Matrix<T> target)
    {
        target.RequireShape(Rows, Cols, "Device download");
        if (Length > 0) View.SubView(0, Length).CopyToCPU(target.Span);
    }

    /// <inheritdoc />
    public void Dispose() => _buffer?.Dispose();
}
