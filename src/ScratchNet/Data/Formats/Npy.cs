using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace ScratchNet.Data.Formats;

/// <summary>
/// numpy's NPY format (versions 1 to 3): the magic "\x93NUMPY", a version, a header length, a header
/// that is a Python dict literal <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (3, 4), }</c>,
/// then the raw elements. Reads uint8, float32 and float64, little- or big-endian, C or Fortran order;
/// writes little-endian.
/// </summary>
public static class Npy
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    // A header holds a dtype and a shape of at most MaxDimensions; numpy itself refuses headers over 10,000 bytes.
    private const int MaxHeaderBytes = 65_536;
    private const int MaxDimensions = 32;

    /// <summary>Reads an .npy file.</summary>
    /// <exception cref="DataFormatException">The file is not NPY, its header is malformed or names an unsupported dtype, or its data disagrees with the header's shape; the message names the file and offset.</exception>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    public static NpyArray Read(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        return Read(new FormatReader(file, path, file.Length), file.Length);
    }

    /// <summary>
    /// Reads one array from <paramref name="reader"/>. <paramref name="declaredLength"/>, the size the
    /// container says the array takes (a file's length, a zip entry's size), is checked against the
    /// header before any data is read, so a header that lies about its shape or dtype is caught up front.
    /// </summary>
    internal static NpyArray Read(FormatReader reader, long declaredLength)
    {
        Span<byte> magic = stackalloc byte[8];
        reader.ReadExactly(magic, "the NPY magic and version");
        if (!magic[..6].SequenceEqual(Magic))
            throw reader.ErrorAt(0, $"starts {Convert.ToHexString(magic[..6])}; an NPY file starts 934E554D5059 (\"\\x93NUMPY\").");
        byte major = magic[6];
        if (major is < 1 or > 3) throw reader.ErrorAt(6, $"NPY version {major}.{magic[7]}; expected 1.0, 2.0 or 3.0.");
        long headerLength = major == 1 ? reader.ReadUInt16LittleEndian("the header length") : reader.ReadUInt32LittleEndian("the header length");
        if (headerLength > MaxHeaderBytes)
            throw reader.ErrorAt(8, $"the header length is {headerLength} bytes; a dtype and shape need far fewer (at most {MaxHeaderBytes} accepted).");
        long headerStart = reader.Offset;
        byte[] headerBytes = reader.ReadBytes(headerLength, "the header");
        string text;
        try
        {
            text = (major == 3 ? new UTF8Encoding(false, throwOnInvalidBytes: true) : Encoding.Latin1).GetString(headerBytes);
        }
        catch (DecoderFallbackException e)
        {
            throw reader.ErrorAt(headerStart, "the header is not valid UTF-8.", e);
        }
        var (type, bigEndian, fortranOrder, shape) = new HeaderParser(text, reader, headerStart).Parse();

        long elements = 1;
        foreach (int size in shape)
        {
            elements *= size;
            if (elements > Array.MaxLength)
                throw reader.ErrorAt(headerStart, $"the shape ({string.Join(", ", shape)}) holds more than {Array.MaxLength} elements.");
        }
        long dataBytes = elements * NpyArray.ItemSize(type);
        long follows = declaredLength - reader.Offset;
        if (dataBytes != follows)
            throw reader.Error($"the header says shape ({string.Join(", ", shape)}) of {Descr(type, bigEndian)}, {dataBytes} bytes of data, but {follows} bytes follow the header.");
        byte[] data = reader.ReadBytes(dataBytes, $"the {elements} elements");
        reader.ExpectEnd($"the {elements} elements");
        if (bigEndian) ReverseEachElement(data, NpyArray.ItemSize(type));
        return new NpyArray(type, shape, data, fortranOrder);
    }

    /// <summary>Writes <paramref name="array"/> to an .npy file atomically.</summary>
    public static void Write(string path, NpyArray array) => AtomicFile.Write(path, stream => Write(stream, array));

    /// <summary>Writes <paramref name="array"/> in NPY format (version 1.0, little-endian) to <paramref name="stream"/>.</summary>
    public static void Write(Stream stream, NpyArray array)
    {
        WriteHeader(stream, array.Type, array.Shape, array.FortranOrder);
        stream.Write(array.Data);
    }

    /// <summary>Writes the magic, version and header for an array whose little-endian elements the caller writes next.</summary>
    internal static void WriteHeader(Stream stream, NpyType type, ReadOnlySpan<int> shape, bool fortranOrder)
    {
        string dims = shape.Length == 1 ? $"{shape[0]}," : string.Join(", ", shape.ToArray());
        string header = $"{{'descr': '{Descr(type, bigEndian: false)}', 'fortran_order': {(fortranOrder ? "True" : "False")}, 'shape': ({dims}), }}";
        // numpy pads with spaces and ends with '\n' so that the data starts at a multiple of 64 bytes.
        int unpadded = Magic.Length + 2 + 2 + header.Length + 1;
        header = header.PadRight(header.Length + (64 - unpadded % 64) % 64) + "\n";
        stream.Write(Magic);
        stream.Write([1, 0]);
        Span<byte> length = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(length, checked((ushort)header.Length));
        stream.Write(length);
        stream.Write(Encoding.ASCII.GetBytes(header));
    }

    private static string Descr(NpyType type, bool bigEndian) => type switch
    {
        NpyType.UInt8 => "|u1",
        NpyType.Float32 => bigEndian ? ">f4" : "<f4",
        _ => bigEndian ? ">f8" : "<f8",
    };

    private static void ReverseEachElement(byte[] data, int size)
    {
        if (size == 1) return;
        for (int i = 0; i < data.Length; i += size) data.AsSpan(i, size).Reverse();
    }

    /// <summary>Parses the header's dict literal; every error names the offset in the file.</summary>
    private sealed class HeaderParser(string text, FormatReader reader, long start)
    {
        private int _at;

        public (NpyType Type, bool BigEndian, bool FortranOrder, int[] Shape) Parse()
        {
            var values = new Dictionary<string, object>();
            Expect('{');
            while (true)
            {
                SkipSpace();
                if (Peek() == '}') break;
                long keyAt = start + _at;
                string key = ParseString();
                if (!values.TryAdd(key, ParseValueAfterColon()))
                    throw reader.ErrorAt(keyAt, $"the header repeats the key '{key}'.");
                SkipSpace();
                if (Peek() == ',') { _at++; continue; }
                if (Peek() != '}') throw Error("expected ',' or '}' in the header dict");
            }
            _at++;
            if (text[_at..].Trim(' ', '\n', '\r', '\t', '\0').Length > 0) throw Error("unexpected text after the header dict");

            string[] required = ["descr", "fortran_order", "shape"];
            if (values.Count != 3 || required.Any(k => !values.ContainsKey(k)))
                throw reader.ErrorAt(start, $"the header has the keys {string.Join(", ", values.Keys)}; expected exactly descr, fortran_order and shape.");
            if (values["descr"] is not string descr)
                throw reader.ErrorAt(start, "the header's descr is not a string; structured dtypes are not supported.");
            if (values["fortran_order"] is not bool fortranOrder)
                throw reader.ErrorAt(start, "the header's fortran_order is not True or False.");
            if (values["shape"] is not int[] shape)
                throw reader.ErrorAt(start, "the header's shape is not a tuple of integers.");
            var (type, bigEndian) = descr switch
            {
                "|u1" or "<u1" or ">u1" => (NpyType.UInt8, false),
                "<f4" => (NpyType.Float32, false),
                ">f4" => (NpyType.Float32, true),
                "<f8" => (NpyType.Float64, false),
                ">f8" => (NpyType.Float64, true),
                _ => throw reader.ErrorAt(start, $"dtype '{descr}' is not supported; expected uint8 ('|u1'), float32 ('<f4', '>f4') or float64 ('<f8', '>f8')."),
            };
            return (type, bigEndian, fortranOrder, shape);
        }

        private object ParseValueAfterColon()
        {
            Expect(':');
            SkipSpace();
            char c = Peek();
            if (c is '\'' or '"') return ParseString();
            if (c == '(') return ParseTuple();
            foreach (var (word, value) in new[] { ("True", true), ("False", false) })
                if (string.CompareOrdinal(text, _at, word, 0, word.Length) == 0)
                {
                    _at += word.Length;
                    return value;
                }
            throw Error("expected a string, True, False or a tuple");
        }

        private string ParseString()
        {
            char quote = Peek();
            if (quote is not ('\'' or '"')) throw Error("expected a quoted string");
            int end = text.IndexOf(quote, _at + 1);
            if (end < 0) throw Error("a string is not closed");
            string value = text[(_at + 1)..end];
            _at = end + 1;
            return value;
        }

        private int[] ParseTuple()
        {
            Expect('(');
            var sizes = new List<int>();
            while (true)
            {
                SkipSpace();
                if (Peek() == ')') break;
                int digits = _at;
                while (_at < text.Length && char.IsAsciiDigit(text[_at])) _at++;
                if (_at == digits) throw Error("expected a non-negative integer in the shape");
                if (!int.TryParse(text.AsSpan(digits, _at - digits), NumberStyles.None, CultureInfo.InvariantCulture, out int size))
                    throw reader.ErrorAt(start + digits, $"the shape's size {text[digits.._at]} exceeds {int.MaxValue}.");
                if (_at < text.Length && text[_at] == 'L') _at++; // Python 2 wrote longs as 3L
                sizes.Add(size);
                if (sizes.Count > MaxDimensions) throw Error($"the shape has more than {MaxDimensions} dimensions");
                SkipSpace();
                if (Peek() == ',') { _at++; continue; }
                if (Peek() != ')') throw Error("expected ',' or ')' in the shape");
            }
            _at++;
            return [.. sizes];
        }

        private void Expect(char c)
        {
            SkipSpace();
            if (Peek() != c) throw Error($"expected '{c}'");
            _at++;
        }

        private char Peek() => _at < text.Length ? text[_at] : throw Error("the header ends early");

        private void SkipSpace()
        {
            while (_at < text.Length && text[_at] is ' ' or '\t' or '\n' or '\r') _at++;
        }

        private DataFormatException Error(string message) =>
            reader.ErrorAt(start + _at, $"{message} (header: {Excerpt()}).");

        private string Excerpt() => text.Length <= 120 ? text.TrimEnd() : text[..120] + "…";
    }
}
