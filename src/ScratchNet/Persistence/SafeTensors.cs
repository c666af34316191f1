using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace ScratchNet.Persistence;

/// <summary>Element types a safetensors file may hold here (I32 only in checkpoints, for index arrays).</summary>
internal enum SafeTensorDType { F32, F64, I32, I64 }

/// <summary>One tensor's header entry: dtype, shape and [begin, end) byte range in the data buffer.</summary>
internal sealed record SafeTensorEntry(string Name, SafeTensorDType DType, long[] Shape, long Begin, long End)
{
    /// <summary>Elements in the tensor (the product of the shape).</summary>
    public long Count => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// The safetensors format (huggingface/safetensors): an 8-byte little-endian header length N, N bytes
/// of UTF-8 JSON mapping tensor names to {dtype, shape, data_offsets} plus an optional string map
/// "__metadata__", then the data buffer, raw little-endian, offsets relative to its start. The header
/// is padded with spaces so that the buffer starts at a multiple of 8.
/// </summary>
internal static class SafeTensors
{
    /// <summary>Largest header accepted: the format's own reader caps it at 100 MB too.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>A parsed header: tensors in buffer order, the metadata, and where the buffer starts in the file.</summary>
    public sealed record Header(IReadOnlyList<SafeTensorEntry> Tensors, IReadOnlyDictionary<string, string> Metadata, long DataStart);

    /// <summary>Writes tensors (values as little-endian bytes, in the given order) and metadata to <paramref name="stream"/>.</summary>
    public static void Write(Stream stream, IReadOnlyList<(string Name, SafeTensorDType DType, long[] Shape, byte[] Data)> tensors,
                             IReadOnlyDictionary<string, string> metadata)
    {
        var json = new MemoryStream();
        using (var writer = new Utf8JsonWriter(json))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("__metadata__");
            foreach (var (key, value) in metadata) writer.WriteString(key, value);
            writer.WriteEndObject();
            long offset = 0;
            foreach (var (name, dtype, shape, data) in tensors)
            {
                writer.WriteStartObject(name);
                writer.WriteString("dtype", dtype.ToString());
                writer.WriteStartArray("shape");
                foreach (long d in shape) writer.WriteNumberValue(d);
                writer.WriteEndArray();
                writer.WriteStartArray("data_offsets");
                writer.WriteNumberValue(offset);
                writer.WriteNumberValue(offset + data.Length);
                writer.WriteEndArray();
                writer.WriteEndObject();
                offset += data.Length;
            }
            writer.WriteEndObject();
        }
        int padding = (int)((8 - json.Length % 8) % 8);   // 8 + N is then a multiple of 8
        for (int i = 0; i < padding; i++) json.WriteByte((byte)' ');
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)json.Length);
        stream.Write(length);
        json.Position = 0;
        json.CopyTo(stream);
        foreach (var tensor in tensors) stream.Write(tensor.Data);
    }

    /// <summary>
    /// Reads and checks the header of the file open in <paramref name="file"/> (a seekable stream, at its start): the length against the
    /// file and <see cref="MaxHeaderBytes"/>, the JSON, each entry's dtype, shape and byte count, and
    /// that the byte ranges tile the whole data buffer without gaps or overlaps. Reads no tensor data.
    /// </summary>
    /// <exception cref="ModelFormatException">Anything in the header is wrong; the message names <paramref name="path"/>.</exception>
    public static Header ReadHeader(Stream file, string path)
    {
        long fileLength = file.Length;
        if (fileLength < 8) throw Error(path, $"the file has {fileLength} bytes, fewer than the 8 of the header length");
        Span<byte> lengthBytes = stackalloc byte[8];
        file.ReadExactly(lengthBytes);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > MaxHeaderBytes)
            throw Error(path, $"the header length field says {headerLength} bytes, more than the {MaxHeaderBytes}-byte cap");
        if ((long)headerLength > fileLength - 8)
            throw Error(path, $"the header length field says {headerLength} bytes, but only {fileLength - 8} follow it");
        var headerBytes = new byte[headerLength];
        file.ReadExactly(headerBytes);
        long dataStart = 8 + (long)headerLength, dataLength = fileLength - dataStart;

        if (!System.Text.Unicode.Utf8.IsValid(headerBytes)) throw Error(path, "the header is not valid UTF-8");
        JsonDocument document;
        try { document = JsonDocument.Parse(headerBytes); }
        catch (Exception e) when (e is JsonException or ArgumentException or DecoderFallbackException)
        {
            throw Error(path, $"the header is not valid JSON ({e.Message})", e);
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object) throw Error(path, "the header is not a JSON object");
            var metadata = new Dictionary<string, string>();
            var tensors = new List<SafeTensorEntry>();
            var names = new HashSet<string>();
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!names.Add(property.Name)) throw Error(path, $"the header names '{property.Name}' twice");
                if (property.Name == "__metadata__")
                {
                    if (property.Value.ValueKind != JsonValueKind.Object) throw Error(path, "__metadata__ is not an object");
                    foreach (var entry in property.Value.EnumerateObject())
                    {
                        if (entry.Value.ValueKind != JsonValueKind.String) throw Error(path, $"__metadata__ entry '{entry.Name}' is not a string");
                        if (!metadata.TryAdd(entry.Name, entry.Value.GetString()!)) throw Error(path, $"__metadata__ names '{entry.Name}' twice");
                    }
                    continue;
                }
                tensors.Add(ParseEntry(property, path));
            }
            tensors.Sort((a, b) => a.Begin.CompareTo(b.Begin));
            long expected = 0;
            foreach (var t in tensors)
            {
                if (t.Begin != expected)
                    throw Error(path, t.Begin < expected
                        ? $"tensor '{t.Name}' at bytes [{t.Begin}, {t.End}) overlaps the tensor before it, which ends at {expected}"
                        : $"tensor '{t.Name}' starts at byte {t.Begin}, leaving bytes [{expected}, {t.Begin}) of the data buffer unused");
                if (t.End > dataLength)
                    throw Error(path, $"tensor '{t.Name}' ends at byte {t.End} of the data buffer, which has only {dataLength} bytes (truncated file?)");
                expected = t.End;
            }
            if (expected != dataLength)
                throw Error(path, $"the tensors cover {expected} bytes of the data buffer, but it has {dataLength}");
            return new Header(tensors, metadata, dataStart);
        }
    }

    private static SafeTensorEntry ParseEntry(JsonProperty property, string path)
    {
        string name = property.Name;
        var tensor = HeaderFields.Root(property.Value, $"tensor '{name}'", what => Error(path, what));
        string dtypeText = tensor["dtype"].String("F32", "F64", "I32", "I64");   // the integers for counters and indices
        var dtype = Enum.Parse<SafeTensorDType>(dtypeText);
        long[] shape = tensor["shape"].Longs(0, int.MaxValue);
        long count = 1;
        foreach (long d in shape) count = count > long.MaxValue / Math.Max(1, d) ? long.MaxValue : count * d;
        long[] offsets = tensor["data_offsets"].Longs(0, long.MaxValue, length: 2);
        long begin = offsets[0], end = offsets[1];
        if (end < begin) throw Error(path, $"tensor '{name}' has data_offsets [{begin}, {end}], which end before they begin");
        long size = ElementSize(dtype);
        if (count > long.MaxValue / size || count * size != end - begin)
            throw Error(path, $"tensor '{name}' of shape [{string.Join(", ", shape)}] and dtype {dtypeText} needs {(count > long.MaxValue / size ? "more than 2^63" : (count * size).ToString())} bytes, but data_offsets give {end - begin}");
        return new SafeTensorEntry(name, dtype, shape, begin, end);
    }

    /// <summary>Bytes per element of <paramref name="dtype"/>.</summary>
    public static int ElementSize(SafeTensorDType dtype) => dtype is SafeTensorDType.F64 or SafeTensorDType.I64 ? 8 : 4;

    /// <summary>A <see cref="ModelFormatException"/> naming the file.</summary>
    public static ModelFormatException Error(string path, string what, Exception? inner = null) =>
        new($"{path}: not a valid model file: {what}.", inner);
}
