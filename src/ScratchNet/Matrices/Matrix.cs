using System.Numerics;
using System.Numerics.Tensors;

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
    private int _offset;   // where the matrix starts in _data: non-zero only for views (see View)
    private bool _view;    // a window on memory someone else owns: it cannot regrow
    private SharedStorage<T>? _shared;   // storage this matrix takes turns in with others (see ShareStorage)

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

    /// <summary>
    /// A matrix holding a copy of <paramref name="values"/> laid out as <paramref name="shape"/>, outermost first:
    /// the first dimension is the rows (samples) and the others, flattened row-major, the columns; a
    /// one-dimensional shape is a single row.
    /// </summary>
    /// <exception cref="ShapeMismatchException"><paramref name="values"/> does not hold the shape's element count.</exception>
    public static Matrix<T> FromArray(T[] values, params ReadOnlySpan<int> shape)
    {
        var (rows, cols) = RowsAndCols(shape);
        return new Matrix<T>(rows, cols, values);
    }

    /// <summary>A matrix whose row r is a copy of <paramref name="rows"/>[r]; every row must have the same length.</summary>
    /// <exception cref="ShapeMismatchException">The rows differ in length.</exception>
    public static Matrix<T> FromRows(T[][] rows)
    {
        int cols = rows.Length == 0 ? 0 : rows[0].Length;
        var matrix = new Matrix<T>(rows.Length, cols);
        for (int r = 0; r < rows.Length; r++)
        {
            if (rows[r].Length != cols) throw new ShapeMismatchException($"Row {r} has {rows[r].Length} values, row 0 has {cols}.");
            rows[r].CopyTo(matrix.Row(r));
        }
        return matrix;
    }

    /// <summary>
    /// A copy of a <see cref="System.Numerics.Tensors"/> tensor (dense or strided): its first dimension becomes
    /// the rows, the others, flattened row-major, the columns; a one-dimensional tensor is a single row.
    /// </summary>
    /// <exception cref="ShapeMismatchException">The tensor has no dimensions.</exception>
    public static Matrix<T> FromTensor(ReadOnlyTensorSpan<T> tensor)
    {
        var lengths = tensor.Lengths;
        if (lengths.Length == 0) throw new ShapeMismatchException("A tensor of rank 0 has no rows.");
        int rows = lengths.Length == 1 ? 1 : checked((int)lengths[0]);
        int cols = checked((int)Product(lengths.Length == 1 ? lengths : lengths[1..]));
        var matrix = new Matrix<T>(rows, cols);
        tensor.FlattenTo(matrix.Span);
        return matrix;
    }

    /// <summary>Each row as a new array.</summary>
    public T[][] ToRows()
    {
        var rows = new T[Rows][];
        for (int r = 0; r < Rows; r++) rows[r] = Row(r).ToArray();
        return rows;
    }

    /// <summary>
    /// A copy as a <see cref="Tensor{T}"/> of lengths (rows, <paramref name="sampleShape"/>…); with no sample
    /// shape, (rows, cols).
    /// </summary>
    /// <exception cref="ShapeMismatchException">The sample shape does not hold <see cref="Cols"/> elements.</exception>
    public Tensor<T> ToTensor(params ReadOnlySpan<int> sampleShape) => Tensor.Create(ToArray(), TensorLengths(sampleShape));

    /// <summary>
    /// The matrix seen as a tensor span of lengths (rows, <paramref name="sampleShape"/>…), without copying:
    /// writes through it change the matrix. Valid until the matrix's row count changes.
    /// </summary>
    /// <exception cref="ShapeMismatchException">The sample shape does not hold <see cref="Cols"/> elements.</exception>
    public TensorSpan<T> AsTensorSpan(params ReadOnlySpan<int> sampleShape) => new(Span, TensorLengths(sampleShape), []);

    private nint[] TensorLengths(ReadOnlySpan<int> sampleShape)
    {
        if (sampleShape.Length == 0) return [Rows, Cols];
        long size = 1;
        foreach (int d in sampleShape) size *= d;
        if (size != Cols) throw new ShapeMismatchException($"A sample shape ({string.Join(", ", sampleShape.ToArray())}) of {size} elements does not fit {Cols} columns.");
        var lengths = new nint[sampleShape.Length + 1];
        lengths[0] = Rows;
        for (int i = 0; i < sampleShape.Length; i++) lengths[i + 1] = sampleShape[i];
        return lengths;
    }

    private static (int Rows, int Cols) RowsAndCols(ReadOnlySpan<int> shape)
    {
        if (shape.Length == 0) throw new ShapeMismatchException("A shape needs at least one dimension.");
        foreach (int d in shape)
            if (d < 0) throw new ShapeMismatchException($"The shape ({string.Join(", ", shape.ToArray())}) has a negative dimension.");
        if (shape.Length == 1) return (1, shape[0]);
        long cols = 1;
        foreach (int d in shape[1..]) cols *= d;
        if (cols > Array.MaxLength) throw new ShapeMismatchException($"The shape ({string.Join(", ", shape.ToArray())}) has more columns than an array can hold.");
        return (shape[0], (int)cols);
    }

    private static long Product(ReadOnlySpan<nint> lengths)
    {
        long product = 1;
        foreach (nint d in lengths) product *= d;
        return product;
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
    public Span<T> Span => _data.AsSpan(_offset, Rows * Cols);

    /// <summary>One row: the features of sample <paramref name="row"/>.</summary>
    public Span<T> Row(int row)
    {
        if ((uint)row >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(row), $"Row {row} of a matrix with {Rows} rows.");
        return _data.AsSpan(_offset + row * Cols, Cols);
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
        if (_shared is not null) _data = _shared.Fit(needed, rows);
        else if (_offset + needed > _data.Length)
        {
            if (_view) throw new InvalidOperationException($"A view of {_data.Length - _offset} elements cannot grow to ({rows}, {Cols}).");
            _data = new T[needed];
        }
        Rows = rows;
    }

    /// <summary>
    /// Makes this workspace matrix take turns in <paramref name="storage"/> with the other matrices bound to it (null: back to
    /// storage of its own): contents are unspecified afterwards, and a write through any of them may overwrite the others.
    /// </summary>
    /// <exception cref="InvalidOperationException">The matrix is a view.</exception>
    internal void ShareStorage(SharedStorage<T>? storage)
    {
        if (_view) throw new InvalidOperationException("A view cannot take turns in shared storage.");
        _shared?.Remove(this);
        _shared = storage;
        Rows = 0;
        _data = storage is null ? [] : storage.Add(this);
    }

    /// <summary>The backing array (identity only: which matrices share storage).</summary>
    internal object Storage => _data;

    // The shared storage grew: every matrix bound to it moves to the new array (their contents are dead by then).
    internal void Rebind(T[] data) => _data = data;

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
    /// A matrix over <paramref name="rows"/>·<paramref name="cols"/> elements of <paramref name="data"/> from
    /// <paramref name="offset"/>, without copying: writes through it change <paramref name="data"/>. A network's
    /// parameter gradients are such views into one flat buffer.
    /// </summary>
    internal static Matrix<T> View(T[] data, int offset, int rows, int cols)
    {
        if (offset < 0 || offset + (long)rows * cols > data.Length)
            throw new ShapeMismatchException($"A ({rows}, {cols}) view from element {offset} does not fit a buffer of {data.Length}.");
        var matrix = new Matrix<T>(0, cols) { _data = data, _offset = offset, _view = true };
        matrix.Rows = rows;
        return matrix;
    }

    private int CheckCol(int col) =>
        (uint)col < (uint)Cols ? col : throw new ArgumentOutOfRangeException(nameof(col), $"Column {col} of a matrix with {Cols} columns.");

    /// <summary>The type and shape, then a preview of the values (corner rows and columns; see <see cref="MatrixText.Preview{T}"/>).</summary>
    public override string ToString() => MatrixText.Preview(this);
}
