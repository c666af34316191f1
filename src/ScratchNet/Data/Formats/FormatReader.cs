using System.Buffers.Binary;

namespace ScratchNet.Data.Formats;

/// <summary>
/// Reads a binary data stream front to back and keeps the offset, so that every error names the
/// source, the offset and what was expected. Truncation, corrupt compressed data and counts that the
/// stream cannot hold all end as <see cref="DataFormatException"/>.
/// </summary>
internal sealed class FormatReader
{
    // A decompressing stream does not say how much it holds; arrays are then grown as data
    // arrives, starting here, so a header that lies about a count cannot make us allocate it.
    private const int FirstChunk = 1 << 20;

    // Deflate's largest expansion (a run of one byte): about 1032 bytes out per byte in.
    private const long MaxInflation = 1032;

    private readonly Stream _stream;
    private readonly long? _length;

    /// <param name="stream">The data, positioned at its start.</param>
    /// <param name="source">Names the file (and entry) in error messages.</param>
    /// <param name="length">Bytes the stream holds, when known (a plain file); null for a decompressing stream.</param>
    public FormatReader(Stream stream, string source, long? length)
    {
        _stream = stream;
        Source = source;
        _length = length;
    }

    /// <summary>Names the source in error messages.</summary>
    public string Source { get; }

    /// <summary>Bytes read so far.</summary>
    public long Offset { get; private set; }

    /// <summary>Bytes left, when the length is known.</summary>
    public long? Remaining => _length - Offset;

    /// <summary>An error at the current offset.</summary>
    public DataFormatException Error(string message, Exception? inner = null) => ErrorAt(Offset, message, inner);

    /// <summary>An error at <paramref name="offset"/>.</summary>
    public DataFormatException ErrorAt(long offset, string message, Exception? inner = null) =>
        new($"{Source}, offset {offset}: {message}", inner);

    /// <summary>Fills <paramref name="buffer"/>; <paramref name="field"/> names what is read, for the truncation message.</summary>
    public void ReadExactly(Span<byte> buffer, string field)
    {
        int read = ReadAtMost(buffer);
        if (read < buffer.Length)
            throw ErrorAt(Offset - read, $"the file ends inside {field}: expected {buffer.Length} bytes, found {read} (truncated file?).");
    }

    /// <summary>One byte.</summary>
    public byte ReadByte(string field)
    {
        Span<byte> one = stackalloc byte[1];
        ReadExactly(one, field);
        return one[0];
    }

    /// <summary>A big-endian 32-bit integer that must not be negative.</summary>
    public int ReadNonNegativeInt32BigEndian(string field)
    {
        Span<byte> four = stackalloc byte[4];
        ReadExactly(four, field);
        int value = BinaryPrimitives.ReadInt32BigEndian(four);
        if (value < 0) throw ErrorAt(Offset - 4, $"{field} is {(uint)value}; expected at most {int.MaxValue}.");
        return value;
    }

    /// <summary>A little-endian unsigned 16-bit integer.</summary>
    public ushort ReadUInt16LittleEndian(string field)
    {
        Span<byte> two = stackalloc byte[2];
        ReadExactly(two, field);
        return BinaryPrimitives.ReadUInt16LittleEndian(two);
    }

    /// <summary>A little-endian unsigned 32-bit integer.</summary>
    public uint ReadUInt32LittleEndian(string field)
    {
        Span<byte> four = stackalloc byte[4];
        ReadExactly(four, field);
        return BinaryPrimitives.ReadUInt32LittleEndian(four);
    }

    /// <summary>
    /// Reads <paramref name="count"/> bytes into a new array. The array is never larger than what the
    /// stream can hold: with a known length the count is checked first; otherwise the array grows as data arrives.
    /// </summary>
    public byte[] ReadBytes(long count, string field)
    {
        if (count < 0 || count > Array.MaxLength)
            throw Error($"{field} would take {count} bytes; at most {Array.MaxLength} can be held.");
        if (Remaining is { } remaining && count > remaining)
            throw Error($"{field} needs {count} bytes but only {remaining} remain (truncated file, or a header that overstates a count).");
        if (_length is not null)
        {
            var exact = new byte[count];
            ReadExactly(exact, field);
            return exact;
        }
        long start = Offset;
        // A gzip trailer that gives exactly the length this count ends at (and that deflate could produce from the
        // file's size) lets the array be allocated once, at its size, instead of grown by doubling (which peaks at
        // twice the data); the trailer is checked at the end, and a stream that ends early is refused as before.
        bool stated = _stream is Crc32Stream { StatedSize: var (inflated, compressed) }
                      && (uint)(Offset + count) == inflated && count <= compressed * MaxInflation;
        var buffer = new byte[stated ? count : Math.Min(count, FirstChunk)];
        int filled = 0;
        while (true)
        {
            int read = ReadAtMost(buffer.AsSpan(filled));
            filled += read;
            if (filled == count) return buffer;
            if (filled < buffer.Length)
                throw ErrorAt(start, $"the file ends inside {field}: expected {count} bytes, found {filled} (truncated file, or a header that overstates a count).");
            Array.Resize(ref buffer, (int)Math.Min(count, 2L * buffer.Length));
        }
    }

    /// <summary>Throws unless the stream has no bytes left; trailing bytes mean a header understated a count.</summary>
    public void ExpectEnd(string what)
    {
        if (Remaining is { } remaining)
        {
            if (remaining != 0) throw Error($"{remaining} bytes follow {what}; expected the file to end there (a header that understates a count?).");
            return;
        }
        Span<byte> probe = stackalloc byte[1];
        if (ReadAtMost(probe) != 0)
            throw ErrorAt(Offset - 1, $"more bytes follow {what}; expected the file to end there (a header that understates a count?).");
    }

    // Reads until the buffer is full or the stream ends; corrupt compressed data becomes a DataFormatException.
    private int ReadAtMost(Span<byte> buffer)
    {
        int total = 0;
        try
        {
            while (total < buffer.Length)
            {
                int read = _stream.Read(buffer[total..]);
                if (read == 0) break;
                total += read;
            }
        }
        catch (InvalidDataException e)
        {
            throw ErrorAt(Offset + total, $"corrupt compressed data ({e.Message}).", e);
        }
        Offset += total;
        return total;
    }

    /// <summary>
    /// Opens <paramref name="path"/> for reading, transparently decompressing it when it starts with the
    /// gzip magic bytes (1F 8B), whatever its name, with the gzip trailer's CRC-32 and length checked at the end
    /// (<see cref="Gzip"/>). Returns the reader and the stream to dispose.
    /// </summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    public static (FormatReader Reader, Stream Stream) OpenMaybeGzip(string path)
    {
        var stream = Gzip.OpenRead(path, out bool compressed);
        return compressed
            ? (new FormatReader(stream, $"{path} (gunzipped)", length: null), stream)
            : (new FormatReader(stream, path, stream.Length), stream);
    }
}
