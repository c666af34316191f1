namespace ScratchNet.Data.Formats;

/// <summary>CRC-32 as ZIP and gzip use it (IEEE 802.3, reflected polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF).</summary>
internal static class Crc32
{
    private static readonly uint[] Table = MakeTable();

    /// <summary>The CRC of <paramref name="data"/> continued from <paramref name="crc"/> (0 for the start).</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        uint c = ~crc;
        foreach (byte b in data) c = Table[(c ^ b) & 0xFF] ^ (c >> 8);
        return ~c;
    }

    private static uint[] MakeTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }
}

/// <summary>
/// A read-only stream that passes another's bytes through, keeping their CRC-32 and count, and calls
/// <c>atEnd</c> once when the inner stream ends, which checks them against a stored value and throws
/// <see cref="InvalidDataException"/> on a mismatch (the format readers turn that into a <see cref="DataFormatException"/>).
/// </summary>
internal sealed class Crc32Stream(Stream inner, Action<uint, long> atEnd, bool leaveOpen = false) : Stream
{
    private uint _crc;
    private long _length;
    private bool _ended;

    /// <summary>For gzip data: the trailer's inflated length (mod 2^32) and the compressed file's length; null otherwise.</summary>
    public (uint Inflated, long Compressed)? StatedSize { get; init; }

    public override int Read(Span<byte> buffer)
    {
        int read = inner.Read(buffer);
        _crc = Crc32.Append(_crc, buffer[..read]);
        _length += read;
        if (read == 0 && buffer.Length > 0 && !_ended)
        {
            _ended = true;
            atEnd(_crc, _length);
        }
        return read;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <summary>Reads the rest of the stream (so that <c>atEnd</c> runs) and discards it.</summary>
    public void Drain()
    {
        Span<byte> scratch = stackalloc byte[4096];
        while (Read(scratch) > 0) { }
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _length; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && !leaveOpen) inner.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>
/// Reading gzip files with their trailer checked: the CRC-32 and length (ISIZE) of the inflated bytes must be the
/// trailer's, so a file cut at a deflate flush point, which inflates without complaint, is refused as `gzip -t`
/// refuses it. One member per file, as gzip, numpy and the dataset publishers write them (a file of several
/// concatenated members fails the check).
/// </summary>
public static class Gzip
{
    /// <summary>
    /// Opens <paramref name="path"/> for reading, decompressing it (with the trailer check) when it starts with the
    /// gzip magic bytes 1F 8B, whatever its name. Corruption and truncation surface as <see cref="InvalidDataException"/>
    /// from <c>Read</c>.
    /// </summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    public static Stream OpenRead(string path) => OpenRead(path, out _);

    /// <summary>As <see cref="OpenRead(string)"/>; <paramref name="compressed"/> says whether it was gzip.</summary>
    internal static Stream OpenRead(string path, out bool compressed)
    {
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        try
        {
            var checkedStream = Decompress(file);
            compressed = checkedStream is not null;
            return (Stream?)checkedStream ?? file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A checked decompressing stream over <paramref name="compressed"/> (seekable, positioned at its start), or null when
    /// it does not start with the gzip magic bytes (it is then left at its start).
    /// </summary>
    internal static Crc32Stream? Decompress(Stream compressed, bool leaveOpen = false)
    {
        Span<byte> magic = stackalloc byte[2];
        int read = compressed.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        compressed.Position = 0;
        if (read < 2 || magic[0] != 0x1F || magic[1] != 0x8B) return null;
        // The trailer is the file's last 8 bytes: CRC-32, then the inflated length mod 2^32, both little-endian.
        uint? crc = null, size = null;
        if (compressed.Length >= 18)
        {
            Span<byte> trailer = stackalloc byte[8];
            compressed.Position = compressed.Length - 8;
            compressed.ReadExactly(trailer);
            compressed.Position = 0;
            crc = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(trailer);
            size = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(trailer[4..]);
        }
        var gzip = new System.IO.Compression.GZipStream(compressed, System.IO.Compression.CompressionMode.Decompress, leaveOpen);
        long compressedLength = compressed.Length;
        return new Crc32Stream(gzip, (actualCrc, length) =>
        {
            if (crc is null)
                throw new InvalidDataException($"the file has {compressedLength} bytes, too few for a gzip header and its 8-byte trailer");
            if (actualCrc != crc || (uint)length != size)
                throw new InvalidDataException(
                    $"the gzip trailer gives {size} bytes with CRC-32 {crc:x8}, but the data inflates to {length} bytes with CRC-32 {actualCrc:x8} (truncated or corrupt file)");
        })
        { StatedSize = size is { } inflated ? (inflated, compressedLength) : null };
    }
}
