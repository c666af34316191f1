using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using ScratchNet.Tests.Cli;
using ScratchNet.Tests.DataFormats;
using ScratchNet.Tests.Persistence;

namespace ScratchNet.Tests.Robustness;

/// <summary>
/// Issue 16's end-to-end proof: every command of the CLI, given hostile inputs (headers of the wrong type, NaN data,
/// corrupt archives, lying images, unwritable outputs, bad numbers, misspellings), exits non-zero with exactly one
/// <c>error:</c> line, no stack frame, and leaves no temporary file behind.
/// </summary>
public sealed class HostileInputCliTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void EveryCommandFailsCleanlyOnEveryHostileInput()
    {
        string root = _folder.Path;
        string good = Path.Combine(root, "good.safetensors");
        HeaderSubjects.Network().Save(good);
        byte[] goodBytes = File.ReadAllBytes(good);
        string plain = Path.Combine(root, "plain.safetensors");
        var linear = new Network<float>(2, 2, Losses.Loss.CrossEntropy, 0, 0.1);
        linear.AddLinear(2);
        linear.AddSoftmax();
        linear.Save(plain);
        string badType = _folder.Write("bad-type.safetensors", SafeTensorsFile.Edit(goodBytes, h => h["0.weight"]!["shape"]![0] = "4"));
        string badLayer = _folder.Write("bad-layer.safetensors", SafeTensorsFile.EditMetadataJson(goodBytes, "layers", l => l[0]!["in"] = "2"));
        string unknownLayer = _folder.Write("unknown-layer.safetensors", SafeTensorsFile.EditMetadataJson(goodBytes, "layers", l => l[0]!["type"] = "swish"));
        string truncated = _folder.Write("truncated.safetensors", goodBytes[..(goodBytes.Length / 2)]);
        string nanCsv = _folder.Write("nan.csv", Encoding.ASCII.GetBytes("a,b,label\n1,2,0\n1e39,3,1\n2,2,0\n"));
        string nanRows = _folder.Write("nan-rows.csv", Encoding.ASCII.GetBytes("1,2\nNaN,3\n"));
        string notAFile = _folder.Write("file", [1]);
        string under = Path.Combine(notAFile, "inside");
        byte[] csvBytes = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 200).Select(i => $"{i % 5},{i % 3},{i % 2}\n")));
        string cutGz = _folder.Write("cut.csv.gz", HostileFiles.FlushedAndCut(csvBytes).Cut);
        byte[] npz = FormatBytes.Zip(false,
            ("x.npy", FormatBytes.Npy("<f4", false, [2, 3], FormatBytes.Floats([1, 2, 3, 4, 5, 6]))),
            ("y.npy", FormatBytes.Npy("<f4", false, [2, 3], FormatBytes.Floats([1, 0, 1, 0, 1, 0]))));
        npz[npz.AsSpan().IndexOf(FormatBytes.Floats([6]))] ^= 1;   // a bit flipped inside x: only the CRC tells
        string badNpz = _folder.Write("crc.npz", npz);
        string hugePng = _folder.Write("huge.png", [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0xEA, 0x60, 0, 0, 0xEA, 0x60, 8, 0, 0, 0, 0, 0x6D, 0xF0, 0x8E, 0x7D]);
        string wrongConfig = _folder.Write("config.json", Encoding.UTF8.GetBytes("{\"epochs\": \"3\"}"));
        string brokenRun = Path.Combine(root, "broken-run");
        Directory.CreateDirectory(brokenRun);
        File.WriteAllText(Path.Combine(brokenRun, "history.csv"), "epoch,train_loss\n1,x\n");
        string badCheckpointRun = Path.Combine(root, "bad-checkpoint-run");
        Directory.CreateDirectory(badCheckpointRun);
        File.WriteAllBytes(Path.Combine(badCheckpointRun, "checkpoint.safetensors"),
            SafeTensorsFile.Edit(HeaderSubjects.CheckpointFile(root), h => h["0.bias"]!["data_offsets"] = new JsonArray(null, 5)));
        string outDir = Path.Combine(root, "out");

        string[][] cases =
        [
            ["train", "--dataset", $"csv:{nanCsv}", "--out", outDir],
            ["train", "--dataset", $"npz:{badNpz}", "--out", outDir],
            ["train", "--dataset", $"csv:{cutGz}", "--out", outDir],
            ["train", "--dataset", "linear", "--out", under],
            ["train", "--config", wrongConfig, "--out", outDir],
            ["train", "--lr", "0,05", "--out", outDir],
            ["train", "--resume", badCheckpointRun],
            ["train", "--resume", Path.Combine(root, "absent")],
            ["evaluate", "--model", badType],
            ["evaluate", "--model", badLayer],
            ["evaluate", "--model", truncated],
            ["evaluate", "--model", root],
            ["evaluate", "--model", good, "--dataset", $"csv:{nanCsv}"],
            ["predict", "--model", badType, nanRows],
            ["predict", "--model", good, nanRows],
            ["predict", "--model", good, hugePng],
            ["predict", "--model", good, cutGz],
            ["predict", "--model", good, root],
            ["export", "--model", badLayer, "--onnx", Path.Combine(root, "x.onnx")],
            ["export", "--model", plain, "--onnx", Path.Combine(under, "x.onnx")],
            ["export", "--model", unknownLayer, "--onnx", Path.Combine(root, "unknown.onnx")],
            ["plot", Path.Combine(root, "absent")],
            ["plot", brokenRun],
            ["plot", brokenRun, "--out", Path.Combine(root, "x.jpg")],
            ["report", "--out", under, "--quick"],
            ["report", "--threads", "0"],
            ["data", "convert", $"csv:{nanCsv}", "--to", "npz", "--out", Path.Combine(root, "x.npz")],
            ["data", "convert", $"npz:{badNpz}", "--to", "npz", "--out", Path.Combine(root, "y.npz")],
            ["data", "download", "no-such-dataset"],
            ["data", "frobnicate"],
            ["info", "--bogus"],
            ["trian"],
        ];
        var failures = new List<string>();
        foreach (string[] args in cases)
        {
            string command = string.Join(' ', args);
            int exit;
            string error;
            try
            {
                (exit, _, error) = CliRunner.Run(args);
            }
            catch (Exception e)
            {
                failures.Add($"{command}: escaped {e.GetType().Name}: {e.Message}");
                continue;
            }
            string[] errorLines = [.. error.Split('\n').Where(l => l.StartsWith("error:", StringComparison.Ordinal))];
            if (exit == 0) failures.Add($"{command}: exit 0");
            if (errorLines.Length != 1) failures.Add($"{command}: {errorLines.Length} error: lines in\n{error}");
            if (error.Contains("   at ", StringComparison.Ordinal)) failures.Add($"{command}: a stack frame in\n{error}");
            if (Directory.EnumerateFiles(root, "*.tmp", SearchOption.AllDirectories).FirstOrDefault() is { } left) failures.Add($"{command}: left {left}");
        }
        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

}
