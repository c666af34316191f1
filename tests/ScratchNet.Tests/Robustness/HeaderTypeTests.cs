using System.Text.Json.Nodes;
using ScratchNet.Tests.DataFormats;
using ScratchNet.Tests.Persistence;

namespace ScratchNet.Tests.Robustness;

/// <summary>
/// Issue 16, case 1: a header value of the wrong JSON type (a string for a number, null, an array) is a
/// <see cref="ModelFormatException"/> or <see cref="CheckpointFormatException"/> naming the file and the key,
/// never the <see cref="InvalidOperationException"/> that <c>JsonElement</c>'s getters throw.
/// </summary>
public class HeaderTypeTests
{
    public static TheoryData<string, string> ModelEdits => new()
    {
        { "shape string", "'shape[0]' is the string \"4\"" },
        { "offsets strings", "'data_offsets[0]' is the string \"a\"" },
        { "offsets null", "'data_offsets[0]' is null" },
        { "dtype number", "'dtype' is the number 32" },
        { "shape object", "'shape' is an object" },
        { "tensor array", "tensor '0.bias': '(root)' is an array of 0" },
        { "layer in string", "'in' is the string \"2\"" },
        { "dropout rate string", "'rate' is the string \"x\"" },
        { "momentum huge", "'momentum' is the number 1e400" },
        { "regularized number", "'regularized' is the number 1" },
        { "type null", "'type' is null" },
    };

    [Theory]
    [MemberData(nameof(ModelEdits))]
    public void AModelHeaderFieldOfTheWrongTypeIsAModelFormatExceptionNamingTheKey(string edit, string expected)
    {
        using var folder = new TempFolder();
        byte[] good = HeaderSubjects.ModelFile(folder.Path);
        byte[] bad = edit switch
        {
            "shape string" => SafeTensorsFile.Edit(good, h => h["0.weight"]!["shape"]![0] = "4"),
            "offsets strings" => SafeTensorsFile.Edit(good, h => h["0.weight"]!["data_offsets"] = new JsonArray("a", "b")),
            "offsets null" => SafeTensorsFile.Edit(good, h => h["0.weight"]!["data_offsets"] = new JsonArray(null, 5)),
            "dtype number" => SafeTensorsFile.Edit(good, h => h["0.bias"]!["dtype"] = 32),
            "shape object" => SafeTensorsFile.Edit(good, h => h["0.bias"]!["shape"] = new JsonObject()),
            "tensor array" => SafeTensorsFile.Edit(good, h => h["0.bias"] = new JsonArray()),
            "layer in string" => SafeTensorsFile.EditMetadataJson(good, "layers", l => l[0]!["in"] = "2"),
            "dropout rate string" => SafeTensorsFile.EditMetadataJson(good, "layers", l => l[3]!["rate"] = "x"),
            "momentum huge" => SafeTensorsFile.EditMetadataJson(good, "layers", l => l[1]!["momentum"] = JsonNode.Parse("1e400")),
            "regularized number" => SafeTensorsFile.EditMetadataJson(good, "layers", l => l[0]!["regularized"] = 1),
            _ => SafeTensorsFile.EditMetadataJson(good, "layers", l => l[2]!["type"] = null),
        };
        string path = folder.Write("bad.safetensors", bad);

        var error = Assert.Throws<ModelFormatException>(() => Network<float>.Load(path));
        Assert.StartsWith($"{path}: not a valid model file: ", error.Message);
        Assert.Contains(expected, error.Message);
        Assert.Contains("expected ", error.Message);
    }

    public static TheoryData<string, string> CheckpointEdits => new()
    {
        { "next_epoch string", "'next_epoch' is the string \"2\"" },
        { "batch_size null", "'batch_size' is null" },
        { "history row number", "'history[1]' is the number 5" },
        { "history epoch string", "'history[0][0]' is the string \"-1\"" },
        { "learning_rate number", "'optimizer.learning_rate' is the number 0.001" },
        { "shuffle_rng strings", "'shuffle_rng[0]' is the string \"1\"" },
        { "dropout_rngs object", "'dropout_rngs' is an object" },
        { "plateau bad_epochs bool", "'plateau.bad_epochs' is true" },
        { "stop_reason unknown", "'stop_reason' is the string \"Exploded\"" },
        { "step_count negative", "'optimizer.step_count' is the number -1" },
        { "shape string", "'shape[0]' is the string \"4\"" },
    };

    [Theory]
    [MemberData(nameof(CheckpointEdits))]
    public void ACheckpointFieldOfTheWrongTypeIsACheckpointFormatExceptionNamingTheKey(string edit, string expected)
    {
        using var folder = new TempFolder();
        byte[] good = HeaderSubjects.CheckpointFile(folder.Path);
        byte[] bad = edit == "shape string"
            ? SafeTensorsFile.Edit(good, h => h["0.weight"]!["shape"]![0] = "4")
            : SafeTensorsFile.EditMetadataJson(good, "checkpoint", c =>
            {
                switch (edit)
                {
                    case "next_epoch string": c["next_epoch"] = "2"; break;
                    case "batch_size null": c["batch_size"] = null; break;
                    case "history row number": c["history"]![1] = 5; break;
                    case "history epoch string": c["history"]![0]![0] = "-1"; break;
                    case "learning_rate number": c["optimizer"]!["learning_rate"] = 0.001; break;
                    case "shuffle_rng strings": c["shuffle_rng"]![0] = "1"; break;
                    case "dropout_rngs object": c["dropout_rngs"] = new JsonObject(); break;
                    case "plateau bad_epochs bool": c["plateau"]!["bad_epochs"] = true; break;
                    case "stop_reason unknown": c["stop_reason"] = "Exploded"; break;
                    default: c["optimizer"]!["step_count"] = -1; break;
                }
            });
        string path = folder.Write("bad.safetensors", bad);
        var trainer = HeaderSubjects.Trainer();
        trainer.Resume(folder.Write("good.safetensors", good));   // the unedited checkpoint fits this trainer

        var error = Assert.Throws<CheckpointFormatException>(() => HeaderSubjects.Trainer().Resume(path));
        Assert.StartsWith($"{path}: not a valid checkpoint: ", error.Message);
        Assert.Contains(expected, error.Message);
    }
}
