using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;

namespace ScratchNet.Tests.Persistence;

/// <summary>A safetensors file taken apart into its JSON header and data buffer, and put back together (length prefix, padding).</summary>
internal static class SafeTensorsFile
{
    public static (JsonObject Header, byte[] Data) Split(byte[] file)
    {
        long length = (long)BinaryPrimitives.ReadUInt64LittleEndian(file);
        var header = JsonNode.Parse(Encoding.UTF8.GetString(file, 8, (int)length))!.AsObject();
        return (header, file[(int)(8 + length)..]);
    }

    public static byte[] Join(JsonNode header, byte[] data)
    {
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        var file = new byte[8 + padded + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)padded);
        json.CopyTo(file, 8);
        file.AsSpan(8 + json.Length, padded - json.Length).Fill((byte)' ');
        data.CopyTo(file, 8 + padded);
        return file;
    }

    /// <summary>The file with <paramref name="edit"/> applied to its header.</summary>
    public static byte[] Edit(byte[] file, Action<JsonObject> edit)
    {
        var (header, data) = Split(file);
        edit(header);
        return Join(header, data);
    }

    /// <summary>The file with <paramref name="edit"/> applied to the JSON held in the string <c>__metadata__[<paramref name="key"/>]</c>.</summary>
    public static byte[] EditMetadataJson(byte[] file, string key, Action<JsonNode> edit) => Edit(file, header =>
    {
        var metadata = header["__metadata__"]!.AsObject();
        var inner = JsonNode.Parse(metadata[key]!.GetValue<string>())!;
        edit(inner);
        metadata[key] = inner.ToJsonString();
    });
}
