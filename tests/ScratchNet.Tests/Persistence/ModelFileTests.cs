using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using ScratchNet.Losses;
using ScratchNet.Persistence;
using ScratchNet.Tests.DataFormats;

namespace ScratchNet.Tests.Persistence;

public class ModelFileTests
{
    private static Network<T> ClassifierNet<T>() where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var net = new Network<T>(5, 3, Loss.CrossEntropy, regularizationFactor: 1e-3, learningRate: 0.05, seed: 7);
        net.AddLinear(7, w: 0.5, b: 0.1, regularization: true);
        net.AddRelu();
        net.AddLinear(4, w: 0.5, b: 0.1);
        net.AddRelu();
        net.AddLinear(3, w: 0.5, b: 0.1, regularization: true);
        net.AddSoftmax();
        return net;
    }

    private static Network<T> RegressionNet<T>() where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var net = new Network<T>(2, 2, Loss.L2, learningRate: 0.01, seed: 3);
        net.AddLinear(6, w: 0.4, b: 0.2);
        net.AddRelu();
        net.AddLinear(2, w: 0.4, b: 0.2);
        return net;
    }

    private static Matrix<T> Random<T>(int rows, int cols, int seed) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var random = new Random(seed);
        var t = new Matrix<T>(rows, cols);
        foreach (ref T v in t.Span) v = T.CreateChecked(random.NextDouble() * 2 - 1);
        return t;
    }

    private static void AssertRoundTrip<T>(Network<T> net) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "model.safetensors");
        var x = Random<T>(9, net.Inputs, 1);
        net.Save(path);
        var expected = net.Predict(x).ToArray();
        var loaded = Network<T>.Load(path);
        Assert.Equal(expected, loaded.Predict(x).ToArray());
        Assert.Equal(net.ToString(), loaded.ToString());
        Assert.Equal(net.Loss, loaded.Loss);
        Assert.Equal(net.RegularizationFactor, loaded.RegularizationFactor);
        Assert.Equal(net.LearningRate, loaded.LearningRate);
        Assert.Equal(net.Parameters.Select(p => p.Regularized), loaded.Parameters.Select(p => p.Regularized));
        Assert.Equal(net.RegularizationPenalty(), loaded.RegularizationPenalty());
        Assert.Equal(new[] { "model.safetensors" }, folder.Files());   // no temporary left behind
    }

    [Fact] public void FloatClassifierRoundTrips() => AssertRoundTrip(ClassifierNet<float>());

    // Every activation the library has: each must have a model-file form that comes back the same.
    [Fact]
    public void EveryActivationRoundTrips()
    {
        var net = new Network<double>(4, 3, Loss.CrossEntropy, seed: 5);
        net.AddLinear(6, w: 0.5, b: 0.1); net.Add(new ScratchNet.Layers.Sigmoid<double>(6));
        net.AddLinear(6, w: 0.5, b: 0.1); net.Add(new ScratchNet.Layers.Tanh<double>(6));
        net.AddLinear(6, w: 0.5, b: 0.1); net.Add(new ScratchNet.Layers.Gelu<double>(6));
        net.AddLinear(6, w: 0.5, b: 0.1); net.Add(new ScratchNet.Layers.LeakyRelu<double>(6, 0.2));
        net.AddLinear(3, w: 0.5, b: 0.1); net.AddSoftmax();
        AssertRoundTrip(net);
    }
    [Fact] public void DoubleClassifierRoundTrips() => AssertRoundTrip(ClassifierNet<double>());
    [Fact] public void FloatRegressionRoundTrips() => AssertRoundTrip(RegressionNet<float>());
    [Fact] public void DoubleRegressionRoundTrips() => AssertRoundTrip(RegressionNet<double>());

    [Fact]
    public void SavingAfterDeferredBatchOneStepSavesTheSteppedWeights()
    {
        var net = ClassifierNet<float>();
        var y = new Matrix<float>(1, 3, [0f, 1f, 0f]);
        for (int i = 0; i < 3; i++) net.TrainStep(Random<float>(1, 5, 10 + i), y);   // the first Linear defers its step
        AssertRoundTrip(net);
    }

    [Fact]
    public void FileDTypeConvertsOnLoad()
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "m.safetensors");
        var net = ClassifierNet<float>();
        net.Save(path);
        var asDouble = Network<double>.Load(path);
        var x = Random<double>(4, 5, 2);
        var xf = new Matrix<float>(4, 5, x.ToArray().Select(v => (float)v).ToArray());
        var back = asDouble.Predict(new Matrix<double>(4, 5, xf.ToArray().Select(v => (double)v).ToArray())).ToArray();
        var reference = net.Predict(xf).ToArray();
        for (int i = 0; i < back.Length; i++) Assert.Equal(reference[i], back[i], 1e-6);
        // float32 weights are exact in float64
        Assert.Equal(net.Parameters[0].Value.ToArray().Select(v => (double)v), asDouble.Parameters[0].Value.ToArray());
    }

    [Fact]
    public void HeaderAndDataFollowTheSafetensorsLayout()
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "m.safetensors");
        var net = new Network<float>(2, 3, Loss.CrossEntropy, 0.5, 0.25);
        net.Add(new Layers.Linear<float>(new Matrix<float>(3, 2, [1, 2, 3, 4, 5, 6]), new Matrix<float>(1, 3, [-1, -2, -3]), regularized: true));
        net.AddSoftmax();
        net.Save(path);
        byte[] bytes = File.ReadAllBytes(path);

        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, (8 + n) % 8);
        Assert.Equal(8 + n + 6 * 4 + 3 * 4, bytes.Length);
        string headerText = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.Equal(headerText.TrimEnd(' ').Length + (int)(n - headerText.TrimEnd(' ').Length), (int)n);  // padding is spaces only
        using var header = JsonDocument.Parse(headerText);
        var root = header.RootElement;
        Assert.Equal(["__metadata__", "0.weight", "0.bias"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("F32", root.GetProperty("0.weight").GetProperty("dtype").GetString());
        Assert.Equal([3L, 2L], root.GetProperty("0.weight").GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal([0L, 24L], root.GetProperty("0.weight").GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal([3L], root.GetProperty("0.bias").GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal([24L, 36L], root.GetProperty("0.bias").GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()));
        var meta = root.GetProperty("__metadata__");
        Assert.Equal("2", meta.GetProperty("inputs").GetString());
        Assert.Equal("3", meta.GetProperty("outputs").GetString());
        Assert.Equal("ce", meta.GetProperty("loss").GetString());
        Assert.Equal("0.5", meta.GetProperty("regularization_factor").GetString());
        Assert.Equal("0.25", meta.GetProperty("learning_rate").GetString());
        Assert.Equal("float32", meta.GetProperty("dtype").GetString());
        Assert.Equal("""[{"type":"linear","in":2,"out":3,"regularized":true},{"type":"softmax"}]""", meta.GetProperty("layers").GetString());
        Assert.True(meta.TryGetProperty("library_version", out _));

        int data = (int)(8 + n);
        float[] expected = [1, 2, 3, 4, 5, 6, -1, -2, -3];
        for (int i = 0; i < expected.Length; i++)
            Assert.Equal(expected[i], BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(data + 4 * i)));
    }

    // A file of the given header JSON (padded as the writer pads) and data bytes.
    private static byte[] Craft(string headerJson, byte[] data, long? lengthField = null)
    {
        var header = Encoding.UTF8.GetBytes(headerJson);
        var file = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)(lengthField ?? header.Length));
        header.CopyTo(file, 8);
        data.CopyTo(file, 8 + header.Length);
        return file;
    }

    private const string Meta = """
        "__metadata__":{"inputs":"2","outputs":"1","loss":"l2","regularization_factor":"0","learning_rate":"0.1","dtype":"float32",
        "layers":"[{\"type\":\"linear\",\"in\":2,\"out\":1,\"regularized\":false}]"}
        """;

    private static string Tensors(string weight = """{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}""",
                                  string bias = """{"dtype":"F32","shape":[1],"data_offsets":[8,12]}""") =>
        $$"""{{{Meta}},"0.weight":{{weight}},"0.bias":{{bias}}}""";

    public static TheoryData<string, byte[], string> Malformed => new()
    {
        { "valid", Craft(Tensors(), new byte[12]), "" },
        { "shorter than 8 bytes", [1, 2, 3], "fewer than the 8" },
        { "header longer than file", Craft(Tensors(), new byte[12], lengthField: 5000), "only" },
        { "header over the cap", Craft(Tensors(), new byte[12], lengthField: 1L << 40), "cap" },
        { "header length field is 2^64-1", Craft(Tensors(), new byte[12], lengthField: -1), "cap" },
        { "truncated data", Craft(Tensors(), new byte[10]), "truncated" },
        { "trailing bytes not covered", Craft(Tensors(), new byte[16]), "cover 12 bytes" },
        { "overlapping ranges", Craft(Tensors(bias: """{"dtype":"F32","shape":[1],"data_offsets":[4,8]}"""), new byte[12]), "overlaps" },
        { "gap between ranges", Craft(Tensors(bias: """{"dtype":"F32","shape":[1],"data_offsets":[12,16]}"""), new byte[16]), "unused" },
        { "out of bounds", Craft(Tensors(bias: """{"dtype":"F32","shape":[1],"data_offsets":[8,1000000012]}"""), new byte[12]), "needs 4 bytes" },
        { "huge shape", Craft(Tensors(bias: """{"dtype":"F32","shape":[2147483647,2147483647,2147483647],"data_offsets":[8,12]}"""), new byte[12]), "2^63" },
        { "negative offset", Craft(Tensors(weight: """{"dtype":"F32","shape":[1,2],"data_offsets":[-8,0]}"""), new byte[12]), "data_offsets" },
        { "unknown dtype", Craft(Tensors(bias: """{"dtype":"BF16","shape":[1],"data_offsets":[8,12]}"""), new byte[12]), "BF16" },
        { "dtype differs from metadata", Craft(Tensors(bias: """{"dtype":"F64","shape":[1],"data_offsets":[8,16]}"""), new byte[16]), "metadata" },
        { "weight shape disagrees", Craft(Tensors(weight: """{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]}"""), new byte[12]), "architecture needs [1, 2]" },
        { "bias missing", Craft("{" + Meta + ""","0.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}}""", new byte[8]), "'0.bias' is missing" },
        { "extra tensor", Craft("{" + Meta + ""","0.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"0.bias":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"5.weight":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}""", new byte[16]), "belongs to no layer" },
        { "not JSON", Craft("{\"0.weight\": [", new byte[12]), "not valid JSON" },
        { "no metadata", Craft("""{"0.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"0.bias":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", new byte[12]), "no 'inputs'" },
        { "architecture width wrong", Craft(Tensors().Replace("\"outputs\":\"1\"", "\"outputs\":\"4\""), new byte[12]), "declares 4 outputs" },
        { "cross-entropy without softmax", Craft(Tensors().Replace("\"l2\"", "\"ce\""), new byte[12]), "does not build" },
        { "unknown layer", Craft(Tensors().Replace("}]\"}", "},{\\\"type\\\":\\\"swish\\\"}]\"}"), new byte[12]), "swish" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void MalformedFilesFailWithModelFormatException(string name, byte[] bytes, string expected)
    {
        using var folder = new TempFolder();
        string path = folder.Write("bad.safetensors", bytes);
        if (name == "valid")
        {
            Assert.Equal(1, Network<float>.Load(path).Outputs);
            return;
        }
        var e = Assert.Throws<ModelFormatException>(() => Network<float>.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void MissingFileIsAnIOException() =>
        Assert.ThrowsAny<IOException>(() => Network<float>.Load(Path.Combine(Path.GetTempPath(), $"absent-{Guid.NewGuid():N}.safetensors")));

    [Fact]
    public void MutatedFilesFailOnlyWithModelFormatException()
    {
        using var folder = new TempFolder();
        string valid = Path.Combine(folder.Path, "valid.safetensors");
        ClassifierNet<float>().Save(valid);
        byte[] seed = File.ReadAllBytes(valid);
        string path = Path.Combine(folder.Path, "fuzzed");
        var random = new Random(6);
        var escaped = new List<string>();
        var clock = Stopwatch.StartNew();
        int cases = int.TryParse(Environment.GetEnvironmentVariable("SCRATCHNET_FUZZ_CASES"), out int c) && c > 0 ? c : 2000;
        for (int i = 0; i < cases; i++)
        {
            byte[] bytes = (byte[])seed.Clone();
            int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(seed);
            switch (i % 5)
            {
                case 0:   // bit flips, mostly in the header where they matter
                    for (int k = random.Next(1, 4); k > 0; k--)
                    {
                        int at = random.Next(random.Next(2) == 0 ? headerEnd : bytes.Length);
                        bytes[at] ^= (byte)(1 << random.Next(8));
                    }
                    break;
                case 1:   // truncation
                    bytes = bytes[..random.Next(bytes.Length)];
                    break;
                case 2:   // huge or random length field
                    BinaryPrimitives.WriteUInt64LittleEndian(bytes, random.Next(3) switch { 0 => ulong.MaxValue - (ulong)random.Next(1000), 1 => (ulong)random.NextInt64(), _ => (ulong)random.Next(headerEnd + 64) });
                    break;
                case 3:   // a digit in the header replaced by a random one, or by a long run of digits
                {
                    var digits = Enumerable.Range(8, headerEnd - 8).Where(k => char.IsAsciiDigit((char)bytes[k])).ToArray();
                    int at = digits[random.Next(digits.Length)];
                    if (random.Next(2) == 0) bytes[at] = (byte)('0' + random.Next(10));
                    else
                    {
                        var text = Encoding.ASCII.GetBytes(new string('9', random.Next(5, 25)));
                        bytes = [.. bytes[..at], .. text, .. bytes[(at + 1)..]];
                        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)(headerEnd - 8 + text.Length - 1));
                    }
                    break;
                }
                default:   // an overwritten run of random bytes
                {
                    int at = random.Next(bytes.Length), run = Math.Min(random.Next(1, 16), bytes.Length - at);
                    random.NextBytes(bytes.AsSpan(at, run));
                    break;
                }
            }
            File.WriteAllBytes(path, bytes);
            try { Network<float>.Load(path).Predict(new Matrix<float>(1, 5)); }
            catch (ModelFormatException) { }
            catch (Exception e) { escaped.Add($"case {i}: {e.GetType().Name}: {e.Message}"); }
        }
        Assert.True(escaped.Count == 0, string.Join("\n", escaped.Take(10)));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"{cases} cases took {clock.Elapsed}");
    }
}
