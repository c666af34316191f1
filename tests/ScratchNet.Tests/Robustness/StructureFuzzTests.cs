using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using ScratchNet.Data.Formats;
using ScratchNet.Tests.DataFormats;
using ScratchNet.Tests.Persistence;

namespace ScratchNet.Tests.Robustness;

/// <summary>
/// Issue 16's fuzzers that know the structure they mutate, where byte flips rarely reach: safetensors model and
/// checkpoint headers (a value replaced by a string, null, an array, an object, a huge or negative number, or
/// removed, in the header and in the JSON held in its metadata), and ZIP and gzip containers (their header, size,
/// CRC and offset fields, flush-point truncations, trailing members). Every case must either load or fail with the
/// format's own exception, and the whole run must finish within a time that scales with its case count.
/// SCRATCHNET_STRUCTURE_FUZZ_CASES sets the cases per format (default 10,000).
/// </summary>
public class StructureFuzzTests
{
    private static int Cases =>
        int.TryParse(Environment.GetEnvironmentVariable("SCRATCHNET_STRUCTURE_FUZZ_CASES"), out int cases) && cases > 0 ? cases : 10_000;

    // Per case on a busy 2-core machine, with a margin of about 10× what one takes (0.1–1 ms), plus a fixed start-up allowance.
    private static TimeSpan Budget(int cases, double millisecondsPerCase) => TimeSpan.FromSeconds(10) + TimeSpan.FromMilliseconds(cases * millisecondsPerCase);

    public static TheoryData<string> HeaderFormats => new() { "model", "checkpoint" };

    [Theory]
    [MemberData(nameof(HeaderFormats))]
    public void MutatedHeadersFailOnlyWithTheirFormatException(string format)
    {
        using var folder = new TempFolder();
        bool checkpoint = format == "checkpoint";
        byte[] seed = checkpoint ? HeaderSubjects.CheckpointFile(folder.Path) : HeaderSubjects.ModelFile(folder.Path);
        Action<string> read = checkpoint ? path => HeaderSubjects.Trainer().Resume(path) : path => Network<float>.Load(path);
        Type expected = checkpoint ? typeof(CheckpointFormatException) : typeof(ModelFormatException);
        Run(folder, seed, random => MutateHeader(seed, random), read, expected, seedNumber: checkpoint ? 11 : 12, millisecondsPerCase: checkpoint ? 4 : 2);
    }

    public static TheoryData<string> ContainerFormats => new() { "npz stored", "npz deflated", "csv gzip", "idx gzip" };

    [Theory]
    [MemberData(nameof(ContainerFormats))]
    public void MutatedContainersFailOnlyWithDataFormatException(string format)
    {
        using var folder = new TempFolder();
        byte[] csv = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 60).Select(i => $"{i % 7}.5,{i % 3},{i % 4}\n")));
        byte[] images = FormatBytes.Idx([6, 8, 8], FormatBytes.Random(384, seed: 5, bound: 16));
        string labels = folder.Write("labels", FormatBytes.Idx([6], [0, 1, 2, 3, 4, 5]));
        var (seed, flushPoints) = format switch
        {
            "npz stored" or "npz deflated" => (FormatBytes.Zip(format == "npz deflated",
                ("x.npy", FormatBytes.Npy("<f4", false, [3, 4], FormatBytes.Floats([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]))),
                ("y.npy", FormatBytes.Npy("<f4", false, [2, 4], FormatBytes.Floats([1, 0, 0, 1, 0, 1, 1, 0])))), []),
            "csv gzip" => GzipWithFlushes(csv),
            _ => GzipWithFlushes(images),
        };
        Action<string> read = format switch
        {
            "npz stored" or "npz deflated" => path => NpzDataset.Load<float>(path),
            "csv gzip" => path => Csv.Read<float>(path),
            _ => path => Idx.ReadImages(path, labels, 16, "fuzz"),
        };
        Func<Random, (byte[], string)> mutate = format.StartsWith("npz", StringComparison.Ordinal)
            ? random => MutateZip(seed, random)
            : random => MutateGzip(seed, flushPoints, random);
        Run(folder, seed, mutate, read, typeof(DataFormatException), seedNumber: format.Length * 31 + format[0], millisecondsPerCase: 2);
    }

    private static void Run(TempFolder folder, byte[] seed, Func<Random, (byte[] Bytes, string Mutation)> mutate, Action<string> read, Type expected,
                            int seedNumber, double millisecondsPerCase)
    {
        string path = Path.Combine(folder.Path, "fuzzed");
        File.WriteAllBytes(path, seed);
        read(path);   // the seed is valid: what is rejected below, the mutations did
        var random = new Random(seedNumber);
        var escaped = new List<string>();
        int rejected = 0, cases = Cases;
        var budget = Budget(cases, millisecondsPerCase);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < cases; i++)
        {
            var (bytes, mutation) = mutate(random);
            File.WriteAllBytes(path, bytes);
            try
            {
                read(path);
            }
            catch (Exception e) when (e.GetType() == expected)
            {
                rejected++;
            }
            catch (Exception e)
            {
                escaped.Add($"case {i} ({mutation}): {e.GetType().Name}: {e.Message}");
            }
        }
        Assert.True(escaped.Count == 0, $"{escaped.Count} of {cases} cases escaped:\n{string.Join('\n', escaped.Take(10))}");
        Assert.True(rejected > cases / 3, $"only {rejected} of {cases} mutations were rejected; the mutations miss the format");
        Assert.True(clock.Elapsed < budget, $"{cases} cases took {clock.Elapsed.TotalSeconds:F1} s, over the {budget.TotalSeconds:F0} s budget");
    }

    // ---- safetensors headers ----

    private static readonly string[] NestedJson = ["layers", "checkpoint", "train_config"];

    private static (byte[], string) MutateHeader(byte[] seed, Random random)
    {
        var (header, data) = SafeTensorsFile.Split(seed);
        var metadata = header["__metadata__"]!.AsObject();
        var descriptions = new List<string>();
        // Half the cases edit the JSON held in a metadata string (the layers, the checkpoint's state), half the header itself.
        string[] nested = [.. NestedJson.Where(metadata.ContainsKey)];
        if (random.Next(2) == 0 && nested.Length > 0)
        {
            string key = nested[random.Next(nested.Length)];
            var inner = JsonNode.Parse(metadata[key]!.GetValue<string>())!;
            for (int edits = 1 + random.Next(2); edits > 0; edits--) descriptions.Add($"{key}: {Replace(inner, random)}");
            metadata[key] = inner.ToJsonString();
        }
        else
        {
            for (int edits = 1 + random.Next(2); edits > 0; edits--) descriptions.Add(Replace(header, random));
        }
        return (SafeTensorsFile.Join(header, data), string.Join("; ", descriptions));
    }

    // Replaces (or removes) one value somewhere below root with a hostile one; says which.
    private static string Replace(JsonNode root, Random random)
    {
        var slots = new List<(JsonNode Parent, string? Key, int Index, string Path)>();
        void Walk(JsonNode node, string path)
        {
            if (node is JsonObject o)
                foreach (var (k, v) in o.ToList())
                {
                    slots.Add((o, k, -1, $"{path}.{k}"));
                    if (v is not null) Walk(v, $"{path}.{k}");
                }
            else if (node is JsonArray a)
                for (int i = 0; i < a.Count; i++)
                {
                    slots.Add((a, null, i, $"{path}[{i}]"));
                    if (a[i] is { } v) Walk(v, $"{path}[{i}]");
                }
        }
        Walk(root, "$");
        if (slots.Count == 0) return "nothing to replace";
        var (parent, key, index, where) = slots[random.Next(slots.Count)];
        JsonNode? current = key is not null ? parent[key] : parent[index];
        if (key is not null && random.Next(8) == 0)
        {
            parent.AsObject().Remove(key);
            return $"{where} removed";
        }
        JsonNode? hostile = random.Next(14) switch
        {
            0 => JsonValue.Create(current?.ToJsonString().Trim('"') ?? "null"),   // the number (or value) as a string
            1 => null,
            2 => new JsonArray(),
            3 => new JsonArray(JsonValue.Create(1), JsonValue.Create("a")),
            4 => new JsonObject(),
            5 => JsonNode.Parse("1e400"),
            6 => JsonNode.Parse("-1"),
            7 => JsonNode.Parse("99999999999999999999"),
            8 => JsonNode.Parse("2147483648"),
            9 => JsonNode.Parse("1.5"),
            10 => JsonValue.Create(true),
            11 => JsonValue.Create("NaN"),
            12 => JsonNode.Parse("0"),
            _ => JsonValue.Create(new string('9', 30)),
        };
        if (key is not null) parent[key] = hostile;
        else parent[index] = hostile;
        return $"{where} = {hostile?.ToJsonString() ?? "null"}";
    }

    // ---- ZIP ----

    // Offsets and widths of the fields of the three ZIP records ScratchNet reads.
    private static readonly (int Offset, int Width)[] LocalFields = [(4, 2), (6, 2), (8, 2), (14, 4), (18, 4), (22, 4), (26, 2), (28, 2)];
    private static readonly (int Offset, int Width)[] CentralFields = [(6, 2), (8, 2), (10, 2), (16, 4), (20, 4), (24, 4), (28, 2), (30, 2), (32, 2), (34, 2), (38, 4), (42, 4)];
    private static readonly (int Offset, int Width)[] EndFields = [(4, 2), (6, 2), (8, 2), (10, 2), (12, 4), (16, 4), (20, 2)];

    private static (byte[], string) MutateZip(byte[] seed, Random random)
    {
        var bytes = (byte[])seed.Clone();
        var records = new List<(int At, (int Offset, int Width)[] Fields, string Name)>();
        for (int i = 0; i + 4 <= bytes.Length; i++)
            switch (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(i)))
            {
                case 0x04034b50: records.Add((i, LocalFields, "local")); break;
                case 0x02014b50: records.Add((i, CentralFields, "central")); break;
                case 0x06054b50: records.Add((i, EndFields, "end")); break;
            }
        switch (random.Next(6))
        {
            case 0:
            case 1:
            case 2:
            {
                var (at, fields, name) = records[random.Next(records.Count)];
                var (offset, width) = fields[random.Next(fields.Length)];
                var span = bytes.AsSpan(at + offset, width);
                ulong old = width == 2 ? BinaryPrimitives.ReadUInt16LittleEndian(span) : BinaryPrimitives.ReadUInt32LittleEndian(span);
                ulong max = width == 2 ? 0xFFFF : 0xFFFFFFFF;
                ulong value = random.Next(8) switch
                {
                    0 => 0,
                    1 => max,                       // the ZIP64 marker
                    2 => old + 1,
                    3 => old - 1,
                    4 => (ulong)random.NextInt64() & max,
                    5 => offset == 8 && name == "local" || offset == 10 && name == "central" ? (ulong)new[] { 1, 12, 14, 99 }[random.Next(4)] : old ^ 1,   // another method
                    6 => old | 1,                   // the encryption flag, for a flags field
                    _ => old * 2,
                };
                if (width == 2) BinaryPrimitives.WriteUInt16LittleEndian(span, (ushort)value);
                else BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)value);
                return (bytes, $"{name} record at {at}, field +{offset} {old} → {value & max}");
            }
            case 3:
            {
                int end = records.First(r => r.Name == "central").At;
                int at = random.Next(end);
                bytes[at] ^= (byte)(1 << random.Next(8));
                return (bytes, $"bit flip at {at} (entries)");
            }
            case 4:
            {
                int length = records[random.Next(records.Count)].At + random.Next(-2, 3);
                length = Math.Clamp(length, 0, bytes.Length);
                return (bytes[..length], $"truncated at {length}, by a record");
            }
            default:
            {
                // An entry's bytes repeated: a second local record whose offset nothing points at, or garbage before the end record.
                int end = records.First(r => r.Name == "end").At;
                byte[] extra = bytes[..Math.Min(end, 64 + random.Next(64))];
                return ([.. bytes[..end], .. extra, .. bytes[end..]], $"{extra.Length} bytes inserted before the end record");
            }
        }
    }

    // ---- gzip ----

    // A gzip member of content written in pieces with flushes between (each flush point a byte-aligned place to cut), and those offsets.
    private static (byte[] Bytes, int[] FlushPoints) GzipWithFlushes(byte[] content)
    {
        using var memory = new MemoryStream();
        var points = new List<int>();
        using (var gzip = new GZipStream(memory, CompressionLevel.Optimal, leaveOpen: true))
        {
            for (int start = 0; start < content.Length; start += 97)
            {
                gzip.Write(content.AsSpan(start, Math.Min(97, content.Length - start)));
                gzip.Flush();
                points.Add((int)memory.Length);
            }
        }
        return (memory.ToArray(), [.. points]);
    }

    private static (byte[], string) MutateGzip(byte[] seed, int[] flushPoints, Random random)
    {
        var bytes = (byte[])seed.Clone();
        switch (random.Next(7))
        {
            case 0:
            {
                int cut = flushPoints[random.Next(flushPoints.Length)];
                return (bytes[..cut], $"cut at the flush point {cut}");
            }
            case 1:
            {
                byte flags = (byte)(1 << random.Next(8));
                bytes[3] |= flags;
                return (bytes, $"header flag 0x{flags:X2} set");
            }
            case 2:
                bytes[2] = (byte)random.Next(256);
                return (bytes, $"method byte {bytes[2]}");
            case 3:
            {
                int at = bytes.Length - 8 + random.Next(8);
                bytes[at] ^= (byte)(1 << random.Next(8));
                return (bytes, $"trailer bit flip at {at}");
            }
            case 4:
            {
                var trailer = bytes.AsSpan(bytes.Length - 4);
                uint size = BinaryPrimitives.ReadUInt32LittleEndian(trailer);
                uint value = random.Next(3) switch { 0 => size + 1, 1 => uint.MaxValue, _ => (uint)random.Next() };
                BinaryPrimitives.WriteUInt32LittleEndian(trailer, value);
                return (bytes, $"ISIZE {size} → {value}");
            }
            case 5:
            {
                // The first deflate block's type set to 11 (reserved), or its bits flipped.
                bytes[10] = (byte)(random.Next(2) == 0 ? bytes[10] | 0b110 : bytes[10] ^ (1 << random.Next(8)));
                return (bytes, "first block header changed");
            }
            default:
            {
                byte[] tail = random.Next(2) == 0 ? seed : FormatBytes.Random(1 + random.Next(20), seed: random.Next());
                return ([.. bytes, .. tail], $"{tail.Length} bytes appended after the trailer");
            }
        }
    }
}
