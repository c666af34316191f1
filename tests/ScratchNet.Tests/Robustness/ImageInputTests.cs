using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using ScratchNet.Data.Formats;
using ScratchNet.Tests.Cli;
using ScratchNet.Tests.DataFormats;
using SkiaSharp;

namespace ScratchNet.Tests.Robustness;

/// <summary>Issue 16, case 6: a PNG whose header lies about its size, or whose data ends early, is a data error, not a crash or a half-decoded image.</summary>
public class ImageInputTests
{
    [Fact]
    public void APngHeaderClaimingAHugeImageIsRefusedBeforeDecoding()
    {
        using var folder = new TempFolder();
        string png = folder.Write("huge.png", Png(60000, 60000, new byte[1 + 60000]));

        var (exit, _, error) = CliRunner.Run("predict", "--model", HostileFiles.TinyModel(folder, 64), png);

        Assert.Equal(1, exit);
        Assert.Equal($"error: {png}: the image header gives 60000×60000 pixels; at most 64 megapixels are decoded (a header that lies about the size, or an image far larger than any model input).", error.Trim());
    }

    [Fact]
    public void AnImageWhoseDataEndsEarlyIsRefused()
    {
        using var folder = new TempFolder();
        using var bitmap = new SKBitmap(200, 200);
        var random = new Random(3);
        for (int y = 0; y < 200; y++)
            for (int x = 0; x < 200; x++) bitmap.SetPixel(x, y, new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)));
        byte[] whole = bitmap.Encode(SKEncodedImageFormat.Png, 100).ToArray();
        string model = HostileFiles.TinyModel(folder, 64);
        Assert.Equal(0, CliRunner.Run("predict", "--model", model, folder.Write("whole.png", whole)).ExitCode);
        string cut = folder.Write("cut.png", whole[..(whole.Length / 2)]);

        var (exit, _, error) = CliRunner.Run("predict", "--model", model, cut);

        Assert.Equal(1, exit);
        Assert.StartsWith($"error: {cut}: the image data is incomplete or corrupt (IncompleteInput); expected 200×200 pixels.", error);
    }

    // A grey 8-bit PNG: signature, IHDR, one IDAT of the zlib-compressed scanlines given, IEND; chunk CRCs computed.
    private static byte[] Png(int width, int height, byte[] scanlines)
    {
        var file = new MemoryStream();
        file.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8;   // bit depth; colour type 0 (grey), compression, filter, interlace 0
        Chunk(file, "IHDR", header);
        var zlib = new MemoryStream();
        using (var z = new ZLibStream(zlib, CompressionLevel.Optimal, leaveOpen: true)) z.Write(scanlines);
        Chunk(file, "IDAT", zlib.ToArray());
        Chunk(file, "IEND", []);
        return file.ToArray();
    }

    private static void Chunk(Stream file, string type, byte[] data)
    {
        Span<byte> four = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(four, data.Length);
        file.Write(four);
        byte[] typeAndData = [.. Encoding.ASCII.GetBytes(type), .. data];
        file.Write(typeAndData);
        BinaryPrimitives.WriteUInt32BigEndian(four, Crc32.Append(0, typeAndData));
        file.Write(four);
    }
}
