using System.Buffers.Binary;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text;

namespace ScratchNet.Tests.DataFormats;

/// <summary>
/// Builds small files in the real formats byte by byte, from the format descriptions rather than
/// with the library's writers, so that reading them tests the readers against the formats themselves.
/// </summary>
internal static class FormatBytes
{
    /// <summary>An unsigned-byte IDX file: 00 00 08 dims, big-endian sizes, data.</summary>
    public static byte[] Idx(int[] shape, byte[] data)
    {
        var bytes = new byte[4 + 4 * shape.Length + data.Length];
        bytes[2] = 0x08;
        bytes[3] = (byte)shape.Length;
        for (int d = 0; d < shape.Length; d++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * d), shape[d]);
        data.CopyTo(bytes, 4 + 4 * shape.Length);
        return bytes;
    }

    /// <summary><paramref name="bytes"/> gzip-compressed.</summary>
    public static byte[] Gzip(byte[] bytes)
    {
        using var memory = new MemoryStream();
        using (var gzip = new GZipStream(memory, CompressionLevel.Optimal, leaveOpen: true)) gzip.Write(bytes);
        return memory.ToArray();
    }

    /// <summary>Deterministic pseudo-random bytes below <paramref name="bound"/>.</summary>
    public static byte[] Random(int count, int seed, int bound = 256)
    {
        var random = new System.Random(seed);
        var bytes = new byte[count];
        for (int i = 0; i < count; i++) bytes[i] = (byte)random.Next(bound);
        return bytes;
    }

    /// <summary>CIFAR records: per image its label byte(s), then 3,072 pixels.</summary>
    public static byte[] CifarRecords(byte[] pixels, byte[] labels, byte[]? coarse = null)
    {
        int labelBytes = coarse is null ? 1 : 2;
        var records = new List<byte>();
        for (int i = 0; i < labels.Length; i++)
        {
            if (coarse is not null) records.Add(coarse[i]);
            records.Add(labels[i]);
            records.AddRange(pixels.AsSpan(i * 3072, 3072).ToArray());
        }
        Assert.Equal(labels.Length * (labelBytes + 3072), records.Count);
        return [.. records];
    }

    /// <summary>An NPY file as numpy writes it: magic, version, header length, the dict padded to 64 bytes, the data.</summary>
    public static byte[] Npy(string descr, bool fortranOrder, int[] shape, byte[] data, int version = 1, string? header = null)
    {
        string dims = shape.Length == 1 ? $"{shape[0]}," : string.Join(", ", shape);
        header ??= $"{{'descr': '{descr}', 'fortran_order': {(fortranOrder ? "True" : "False")}, 'shape': ({dims}), }}";
        int lengthBytes = version == 1 ? 2 : 4;
        int unpadded = 8 + lengthBytes + header.Length + 1;
        header = header.PadRight(header.Length + (64 - unpadded % 64) % 64) + "\n";
        var bytes = new List<byte> { 0x93 };
        bytes.AddRange("NUMPY"u8.ToArray());
        bytes.AddRange([(byte)version, 0]);
        var length = new byte[lengthBytes];
        if (version == 1) BinaryPrimitives.WriteUInt16LittleEndian(length, (ushort)header.Length);
        else BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)header.Length);
        bytes.AddRange(length);
        bytes.AddRange(Encoding.ASCII.GetBytes(header));
        bytes.AddRange(data);
        return [.. bytes];
    }

    /// <summary>The values as float32 bytes of the given byte order.</summary>
    public static byte[] Floats(float[] values, bool bigEndian = false)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++)
            if (bigEndian) BinaryPrimitives.WriteSingleBigEndian(bytes.AsSpan(i * 4), values[i]);
            else BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        return bytes;
    }

    /// <summary>The values as float64 bytes of the given byte order.</summary>
    public static byte[] Doubles(double[] values, bool bigEndian = false)
    {
        var bytes = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++)
            if (bigEndian) BinaryPrimitives.WriteDoubleBigEndian(bytes.AsSpan(i * 8), values[i]);
            else BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(i * 8), values[i]);
        return bytes;
    }

    /// <summary>A zip archive with the given entries (names used as they are, ".." included).</summary>
    public static byte[] Zip(bool compress, params (string Name, byte[] Data)[] entries)
    {
        using var memory = new MemoryStream();
        using (var zip = new ZipArchive(memory, ZipArchiveMode.Create, leaveOpen: true))
            foreach (var (name, data) in entries)
            {
                using var stream = zip.CreateEntry(name, compress ? CompressionLevel.Optimal : CompressionLevel.NoCompression).Open();
                stream.Write(data);
            }
        return memory.ToArray();
    }

    /// <summary>A .tar.gz archive of regular files (names used as they are).</summary>
    public static byte[] TarGz(params (string Name, byte[] Data)[] files)
    {
        using var memory = new MemoryStream();
        using (var gzip = new GZipStream(memory, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Pax, leaveOpen: true))
            foreach (var (name, data) in files)
                tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(data) });
        return memory.ToArray();
    }

    /// <summary>The hex MD5 of <paramref name="bytes"/>, as the catalog writes checksums.</summary>
    public static string Md5(byte[] bytes) => "md5:" + Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(bytes));
}
