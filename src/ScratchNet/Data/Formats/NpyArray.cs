using System.Buffers.Binary;
using System.Numerics;

namespace ScratchNet.Data.Formats;

/// <summary>The element types ScratchNet reads and writes in NPY files.</summary>
public enum NpyType
{
    /// <summary>Unsigned byte, numpy '|u1'.</summary>
    UInt8,

    /// <summary>IEEE single, numpy '&lt;f4' or '&gt;f4'.</summary>
    Float32,

    /// <summary>IEEE double, numpy '&lt;f8' or '&gt;f8'.</summary>
    Float64,
}

/// <summary>
/// An n-dimensional numpy array: shape, element type, and the elements in storage order (row-major,
/// or column-major when <see cref="FortranOrder"/>), held as little-endian bytes whatever the file's order.
/// </summary>
public sealed class NpyArray
{
    /// <summary>Wraps <paramref name="data"/> (not copied).</summary>
    /// <param name="type">The element type.</param>
    /// <param name="shape">The dimensions; empty for a scalar.</param>
    /// <param name="data">The elements, little-endian, in storage order.</param>
    /// <param name="fortranOrder">Column-major storage (the first index varies fastest).</param>
    /// <exception cref="ArgumentException">The data does not hold the shape's elements.</exception>
    public NpyArray(NpyType type, int[] shape, byte[] data, bool fortranOrder = false)
    {
        long length = 1;
        foreach (int size in shape)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(size, nameof(shape));
            length *= size;
        }
        if (length * ItemSize(type) != data.LongLength)
            throw new ArgumentException($"A {type} array of shape ({string.Join(", ", shape)}) needs {length * ItemSize(type)} bytes; got {data.LongLength}.", nameof(data));
        Type = type;
        Shape = shape;
        Data = data;
        FortranOrder = fortranOrder;
        Length = length;
    }

    /// <summary>The element type.</summary>
    public NpyType Type { get; }

    /// <summary>The dimensions; empty for a scalar.</summary>
    public int[] Shape { get; }

    /// <summary>The elements as little-endian bytes, in storage order.</summary>
    public byte[] Data { get; }

    /// <summary>Column-major storage: the first index varies fastest.</summary>
    public bool FortranOrder { get; }

    /// <summary>Number of elements.</summary>
    public long Length { get; }

    /// <summary>A row-major float32 array of shape <paramref name="shape"/> holding <paramref name="values"/>.</summary>
    public static NpyArray Of(int[] shape, ReadOnlySpan<float> values) => new(NpyType.Float32, shape, ToBytes(values, 4, (s, v) => BinaryPrimitives.WriteSingleLittleEndian(s, v)));

    /// <summary>A row-major float64 array of shape <paramref name="shape"/> holding <paramref name="values"/>.</summary>
    public static NpyArray Of(int[] shape, ReadOnlySpan<double> values) => new(NpyType.Float64, shape, ToBytes(values, 8, (s, v) => BinaryPrimitives.WriteDoubleLittleEndian(s, v)));

    /// <summary>A row-major uint8 array of shape <paramref name="shape"/> holding <paramref name="values"/>.</summary>
    public static NpyArray Of(int[] shape, ReadOnlySpan<byte> values) => new(NpyType.UInt8, shape, values.ToArray());

    /// <summary>Bytes per element of <paramref name="type"/>.</summary>
    public static int ItemSize(NpyType type) => type switch { NpyType.UInt8 => 1, NpyType.Float32 => 4, _ => 8 };

    /// <summary>The element at position <paramref name="index"/> in storage order, converted to <typeparamref name="T"/>.</summary>
    public T At<T>(long index) where T : IFloatingPointIeee754<T> => Type switch
    {
        NpyType.UInt8 => T.CreateChecked(Data[index]),
        NpyType.Float32 => T.CreateChecked(BinaryPrimitives.ReadSingleLittleEndian(Data.AsSpan(checked((int)(index * 4)), 4))),
        _ => T.CreateChecked(BinaryPrimitives.ReadDoubleLittleEndian(Data.AsSpan(checked((int)(index * 8)), 8))),
    };

    /// <summary>
    /// The element at (<paramref name="row"/>, <paramref name="col"/>) of a two-dimensional array, whichever its storage order.
    /// </summary>
    public T At<T>(int row, int col) where T : IFloatingPointIeee754<T> =>
        At<T>(FortranOrder ? (long)col * Shape[0] + row : (long)row * Shape[1] + col);

    private delegate void Writer<TValue>(Span<byte> destination, TValue value);

    private static byte[] ToBytes<TValue>(ReadOnlySpan<TValue> values, int size, Writer<TValue> write)
    {
        var bytes = new byte[values.Length * size];
        for (int i = 0; i < values.Length; i++) write(bytes.AsSpan(i * size, size), values[i]);
        return bytes;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Type} ({string.Join(", ", Shape)}){(FortranOrder ? " Fortran order" : "")}";
}
