using System.Buffers.Binary;
using System.IO.Compression;

namespace ScratchNet.Data.Formats;

/// <summary>An IDX array of unsigned bytes: its dimensions and its elements, row-major.</summary>
/// <param name="Shape">The dimensions, outermost first, e.g. (60000, 28, 28).</param>
/// <param name="Data">The elements, row-major; as many as the product of <paramref name="Shape"/>.</param>
public sealed record IdxArray(int[] Shape, byte[] Data);

/// <summary>
/// The IDX format of MNIST, Fashion-MNIST and KMNIST, raw or gzip-compressed: two zero bytes, an
/// element-type byte (0x08: unsigned byte), a dimension count, one big-endian int32 per dimension, then
/// the elements row-major. Images are (count, rows, cols), labels (count).
/// </summary>
public static class Idx
{
    private const byte UnsignedByte = 0x08;

    private static readonly Dictionary<byte, string> OtherTypes = new()
    {
        [0x09] = "signed byte", [0x0B] = "int16", [0x0C] = "int32", [0x0D] = "float32", [0x0E] = "float64",
    };

    /// <summary>Reads an unsigned-byte IDX file, gzip-compressed or not (told by its first bytes).</summary>
    /// <exception cref="DataFormatException">Wrong magic or element type, a dimension product the file cannot hold, truncated or trailing data, corrupt gzip; the message names the file and the offset.</exception>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    public static IdxArray Read(string path)
    {
        var (reader, stream) = FormatReader.OpenMaybeGzip(path);
        using (stream) return Read(reader);
    }

    private static IdxArray Read(FormatReader reader)
    {
        Span<byte> magic = stackalloc byte[4];
        reader.ReadExactly(magic, "the 4-byte IDX magic number");
        if (magic[0] != 0 || magic[1] != 0)
            throw reader.ErrorAt(0, $"the magic number starts {magic[0]:X2} {magic[1]:X2}; an IDX file starts 00 00 (then the type byte 08 and the dimension count).");
        if (magic[2] != UnsignedByte)
            throw reader.ErrorAt(2, OtherTypes.TryGetValue(magic[2], out string? type)
                ? $"the element type is 0x{magic[2]:X2} ({type}); ScratchNet reads unsigned-byte IDX files (0x08)."
                : $"the element type byte is 0x{magic[2]:X2}; expected 0x08 (unsigned byte).");
        int dimensions = magic[3];
        if (dimensions == 0) throw reader.ErrorAt(3, "the dimension count is 0; expected at least 1.");

        var shape = new int[dimensions];
        long elements = 1;
        for (int d = 0; d < dimensions; d++)
        {
            shape[d] = reader.ReadNonNegativeInt32BigEndian($"dimension {d}");
            // Checked as we go, so the product cannot overflow: each factor is below 2^31.
            elements *= shape[d];
            if (elements > Array.MaxLength)
                throw reader.Error($"the dimensions {string.Join('×', shape[..(d + 1)])} hold more than {Array.MaxLength} elements.");
        }
        byte[] data = reader.ReadBytes(elements, $"the {string.Join('×', shape)} elements");
        reader.ExpectEnd($"the {string.Join('×', shape)} elements");
        return new IdxArray(shape, data);
    }

    /// <summary>
    /// Reads a pair of IDX files, images (count, rows, cols) and labels (count), into an <see cref="ImageSet"/>.
    /// </summary>
    /// <param name="imagesPath">The images file, e.g. train-images-idx3-ubyte.gz.</param>
    /// <param name="labelsPath">The labels file, e.g. train-labels-idx1-ubyte.gz.</param>
    /// <param name="classes">Number of classes; every label must be below it.</param>
    /// <param name="name">Names the set.</param>
    /// <exception cref="DataFormatException">Either file is malformed, the shapes are not (n, rows, cols) and (n), the counts differ, or a label is out of range.</exception>
    public static ImageSet ReadImages(string imagesPath, string labelsPath, int classes, string name)
    {
        var images = Read(imagesPath);
        if (images.Shape.Length != 3)
            throw new DataFormatException($"{imagesPath}: has {images.Shape.Length} dimensions ({string.Join('×', images.Shape)}); expected 3 (images, rows, columns).");
        var labels = Read(labelsPath);
        if (labels.Shape.Length != 1)
            throw new DataFormatException($"{labelsPath}: has {labels.Shape.Length} dimensions ({string.Join('×', labels.Shape)}); expected 1 (one label per image).");
        if (labels.Shape[0] != images.Shape[0])
            throw new DataFormatException($"{imagesPath} holds {images.Shape[0]} images but {labelsPath} holds {labels.Shape[0]} labels; expected one label per image.");
        if (images.Shape[1] == 0 || images.Shape[2] == 0)
            throw new DataFormatException($"{imagesPath}: images of {images.Shape[1]}×{images.Shape[2]} pixels; expected at least one pixel.");
        const int headerBytes = 8; // magic and count: the offset of the first label
        for (int i = 0; i < labels.Data.Length; i++)
            if (labels.Data[i] >= classes)
                throw new DataFormatException($"{labelsPath}, offset {headerBytes + i} (label {i}): {labels.Data[i]} is not a class; expected 0..{classes - 1}.");
        return new ImageSet(name, images.Shape[1], images.Shape[2], 1, images.Data, labels.Data, classes);
    }

    /// <summary>Writes an unsigned-byte IDX file atomically, gzip-compressed when <paramref name="gzip"/>.</summary>
    /// <exception cref="ArgumentException">The data does not hold the product of the shape's elements.</exception>
    public static void Write(string path, ReadOnlySpan<int> shape, ReadOnlySpan<byte> data, bool gzip)
    {
        if (shape.Length is 0 or > byte.MaxValue) throw new ArgumentException($"An IDX array has 1..255 dimensions, not {shape.Length}.", nameof(shape));
        long elements = 1;
        foreach (int size in shape)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(size, nameof(shape));
            elements *= size;
        }
        if (elements != data.Length) throw new ArgumentException($"Shape {string.Join('×', shape.ToArray())} has {elements} elements; got {data.Length} bytes.", nameof(data));

        var header = new byte[4 + 4 * shape.Length];
        header[2] = UnsignedByte;
        header[3] = (byte)shape.Length;
        for (int d = 0; d < shape.Length; d++) BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * d), shape[d]);
        byte[] body = data.ToArray();
        AtomicFile.Write(path, file =>
        {
            if (!gzip)
            {
                file.Write(header);
                file.Write(body);
                return;
            }
            using var compressed = new GZipStream(file, CompressionLevel.Optimal, leaveOpen: true);
            compressed.Write(header);
            compressed.Write(body);
        });
    }
}
