using System.CommandLine;
using ScratchNet.Onnx;

namespace ScratchNet.Cli.Commands;

/// <summary><c>scratchnet export --model M --onnx out.onnx</c>: converts a saved model file to ONNX.</summary>
public static class ExportCommand
{
    /// <summary>Creates the command; it reports the file written to <paramref name="output"/>.</summary>
    public static Command Create(TextWriter output)
    {
        var model = new Option<string>("--model") { Description = "A model file written by Network.Save or 'train --out' (model.safetensors).", Required = true };
        var onnx = new Option<string>("--onnx") { Description = "The ONNX file to write (opset 13, float32, dynamic batch).", Required = true };
        var command = new Command("export", "Convert a saved model to ONNX.") { model, onnx };
        command.SetAction(parse =>
        {
            // A float64 file is rounded to float32 here, as ONNX export would round it anyway.
            var network = Network<float>.Load(parse.GetValue(model)!);
            string path = parse.GetValue(onnx)!;
            network.ExportOnnx(path);
            output.WriteLine($"# wrote {path}: {network}");
            return 0;
        });
        return command;
    }
}
