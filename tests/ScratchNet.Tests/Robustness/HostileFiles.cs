using System.IO.Compression;
using ScratchNet.Tests.DataFormats;

namespace ScratchNet.Tests.Robustness;

/// <summary>Small files the robustness tests share: a gzip cut where a reader would not notice, and a tiny model.</summary>
internal static class HostileFiles
{
    /// <summary>A gzip file of <paramref name="content"/> written with a flush in the middle, and the same cut just after that flush.</summary>
    public static (byte[] Whole, byte[] Cut) FlushedAndCut(byte[] content)
    {
        using var memory = new MemoryStream();
        long flushedAt;
        using (var gzip = new GZipStream(memory, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(content.AsSpan(0, content.Length / 2));
            gzip.Flush();
            flushedAt = memory.Length;
            gzip.Write(content.AsSpan(content.Length / 2));
        }
        byte[] whole = memory.ToArray();
        return (whole, whole[..(int)flushedAt]);
    }

    /// <summary>A model file of a linear layer from <paramref name="inputs"/> features to 2 classes, in <paramref name="folder"/>.</summary>
    public static string TinyModel(TempFolder folder, int inputs)
    {
        string path = Path.Combine(folder.Path, "model.safetensors");
        var net = new Network<float>(inputs, 2, Losses.Loss.CrossEntropy, 0, 0.1);
        net.AddLinear(2);
        net.AddSoftmax();
        net.Save(path);
        return path;
    }
}
