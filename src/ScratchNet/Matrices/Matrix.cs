using System.Numerics;

namespace ScratchNet;

/// <summary>
/// A dense, row-major, two-dimensional tensor of <c>float</c> or <c>double</c>: one sample per row,
/// one feature per column. Shapes are written (rows, cols), e.g. a batch of 32 Fashion-MNIST images
/// is (32, 784).
/// </summary>
/// <remarks>
/// Layers reuse their output and gradient tensors from step to step; such a workspace tensor keeps its
/// backing array and may shrink or regrow its row count within that array's capacity (the last,
/// smaller batch of an epoch does not reallocate).
/// </remarks>
public sealed class Matrix<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private T[] _data;

    /// <summary>Creates a zero-filled tensor of shape (<paramref name="rows"/>, <paramref name="cols"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is negative, or rows × cols exceeds an array's size.</exception>
    public Matrix(int rows, int cols)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        long length = (long)rows * cols;
        if (length > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(rows), $"A ({rows}, {cols}) tensor has {length} elements, more than an array can hold.");
        Rows = rows;
        Cols = cols;
        _data = new T[length];
    }

    /// <summary>Creates a matrix of shape (<paramref name="rows"/>, <paramref name="cols"/>) holding a copy of <paramref name="values"/> (row-major).</summary>
    /// <exception cref="ShapeMismatchException"><paramref name="values"/> does not hold rows × cols elements.</exception>
    public Matrix(int rows, int cols, ReadOnlySpan<T> values) : this(rows, cols)
    {
        if (values.Length != _data.Length)
            throw new ShapeMismatchException($"A ({rows}, {cols}) tensor needs {_data.Length} values, got {values.Length}.");
        values.CopyTo(_data);
    }

    /// <summary>Creates a matrix from a rectangular array, converting each element to <typeparamref name="T"/>.</summary>
    public static Matrix<T> From<TSource>(TSource[,] values) where TSource : INumberBase<TSource>
    {
        var tensor = new Matrix<T>(values.GetLength(0), values.GetLength(1));
        var span = tensor.Span;
        int i = 0;
        foreach (TSource value in values) span[i++] = T.CreateChecked(value);
        return tensor;
    }

    /// <summary>Number of rows (samples).</summary>
    public int Rows { get; private set; }

    /// <summary>Number of columns (features).</summary>
    public int Cols { get; }

    /// <summary>Total number of elements, rows × cols.</summary>
    public int Length => Rows * Cols;

    /// <summary>The shape as (rows, cols).</summary>
    public (int Rows, int Cols) Shape => (Rows, Cols);

    /// <summary>All elements, row-major.</summary>
    public Span<T> Span => _data.AsSpan(0, Rows * Cols);

    /// <summary>One row: the features of sample <paramref name="row"/>.</summary>
    public Span<T> Row(int row)
    {
        if ((uint)row >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(row), $"Row {row} of a matrix with {Rows} rows.");
        return _data.AsSpan(row * Cols, Cols);
    }

    /// <summary>Element at (<paramref name="row"/>, <paramref name="col"/>).</summary>
    public T this[int row, int col]
    {
        get => Row(row)[CheckCol(col)];
        set => Row(row)[CheckCol(col)] = value;
    }

    /// <summary>A deep copy.</summary>
    public Matrix<T> Clone() => new(Rows, Cols, Span);

    /// <summary>The elements as a new row-major array.</summary>
    public T[] ToArray() => Span.ToArray();

    /// <summary>Copies rows <paramref name="indices"/> of this tensor, in that order, into a new tensor.</summary>
    public Matrix<T> GatherRows(ReadOnlySpan<int> indices)
    {
        var result = new Matrix<T>(indices.Length, Cols);
        GatherRowsInto(indices, result);
        return result;
    }

    /// <summary>Copies rows <paramref name="indices"/> into <paramref name="destination"/>, resizing its row count.</summary>
    internal void GatherRowsInto(ReadOnlySpan<int> indices, Matrix<T> destination)
    {
        if (destination.Cols != Cols)
            throw new ShapeMismatchException($"Cannot gather rows of {Cols} columns into a matrix of {destination.Cols} columns.");
        destination.SetRows(indices.Length);
        for (int i = 0; i < indices.Length; i++) Row(indices[i]).CopyTo(destination.Row(i));
    }

    /// <summary>Changes the row count, reusing the backing array when it is large enough. Contents are unspecified afterwards.</summary>
    internal void SetRows(int rows)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        long needed = (long)rows * Cols;
        if (needed > _data.Length) _data = new T[needed];
        Rows = rows;
    }

    /// <summary>
    /// Throws unless this tensor has <paramref name="cols"/> columns; <paramref name="what"/> (and
    /// <paramref name="owner"/>, e.g. a layer) name the tensor in the message, which is only built on failure.
    /// </summary>
    internal void RequireCols(int cols, string what, object? owner = null)
    {
        if (Cols != cols)
            throw new ShapeMismatchException($"{Describe(what, owner)} must have {cols} columns, but has shape ({Rows}, {Cols}).");
    }

    /// <summary>Throws unless this tensor has shape (<paramref name="rows"/>, <paramref name="cols"/>); see <see cref="RequireCols"/>.</summary>
    internal void RequireShape(int rows, int cols, string what, object? owner = null)
    {
        if (Rows != rows || Cols != cols)
            throw new ShapeMismatchException($"{Describe(what, owner)} must have shape ({rows}, {cols}), but has shape ({Rows}, {Cols}).");
    }

    private static string Describe(string what, object? owner) => owner is null ? what : $"{what} of {owner}";

    /// <summary>
    /// A tensor over the first <paramref name="rows"/>·<paramref name="cols"/> elements of <paramref name="data"/>,
    /// without copying: for backends that own their memory and hand it to the kernels.
    /// </summary>
    internal static Matrix<T> Wrap(T[] data, int rows, int cols)
    {
        if ((long)rows * cols > data.Length)
            throw new ShapeMismatchException($"A ({rows}, {cols}) view needs {(long)rows * cols} elements, the buffer holds {data.Length}.");
        var tensor = new Matrix<T>(0, cols) { _data = data };
        tensor.Rows = rows;
        return tensor;
    }

    /// <summary>The backing array, which may be longer than <see cref="Length"/>; for kernels.</summary>
    internal T[] Buffer => _data;

    private int CheckCol(int col) =>
        (uint)col < (uint)Cols ? col : throw new ArgumentOutOfRangeException(nameof(col), $"Column {col} of a matrix with {Cols} columns.");

    /// <summary>The type and shape, then a preview of the values (corner rows and columns; see <see cref="MatrixText.Preview{T}"/>).</summary>
    public override string ToString() => MatrixText.Preview(this);
}
