using System.CommandLine;
using System.Globalization;
using ScratchNet.Data.Formats;
using ScratchNet.Losses;
using SkiaSharp;

namespace ScratchNet.Cli.Commands;

/// <summary>
/// <c>scratchnet predict --model M INPUT</c>: the model's class probabilities for each row of a CSV or NPY
/// file, or for an image (PNG, JPEG, …) converted to the model's input.
/// </summary>
public static class PredictCommand
{
    private static readonly string[] ImageExtensions = [".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"];

    public static Command Create(TextWriter output)
    {
        var model = new Option<string>("--model") { Description = "A model file written by 'train' (model.safetensors).", Required = true };
        var input = new Argument<string>("INPUT")
        {
            Description = "A CSV file (one sample per line, as many numbers as the model has inputs; a header line is skipped), an NPY array " +
                          "((inputs), (rows, inputs) or (rows, height, width); uint8 values are pixels and scaled by 1/255), or an image " +
                          "(PNG, JPEG, BMP, GIF, WebP): resized to k×k grey for k² inputs (e.g. 784: 28×28) or to k×k RGB, channel-major, for 3k² (e.g. 3072: 32×32, as CIFAR), pixels / 255.",
        };
        var command = new Command("predict", "Class probabilities (cross-entropy models) or outputs (L2 models) for each sample of a file.") { model, input };
        command.SetAction(parse =>
        {
            string modelPath = parse.GetValue(model)!;
            var run = TrainedModel.Open(modelPath);
            var network = Network<float>.Load(modelPath);
            string path = parse.GetValue(input)!;
            if (!File.Exists(path)) throw new UsageException($"INPUT: '{path}' does not exist.");
            var (x, what) = Read(path, network.Inputs);
            // Pixels (images, uint8 arrays) are normalised per channel as the run normalised its training images.
            if (RecipeSetup.RecordedNormalization(run.Config) is { } norm && what.Contains("pixels / 255", StringComparison.Ordinal))
            {
                Normalize(x, norm);
                what += string.Create(CultureInfo.InvariantCulture, $", normalised per channel as in training (mean {string.Join('/', norm.Mean.Select(m => m.ToString("G4", CultureInfo.InvariantCulture)))})");
            }
            var p = network.Predict(x);                                              // (rows, outputs)
            string[] names = ClassNames.For(run.Dataset, network.Outputs);
            bool probabilities = network.Loss == Loss.CrossEntropy;

            output.WriteLine($"# model {modelPath}: network {network}{(run.Dataset is { } d ? $", trained on {d}" : "")}");
            output.WriteLine($"# input {path}: {what}");
            output.WriteLine($"# per row: the predicted class, its {(probabilities ? "probability" : "output")}, then every class's {(probabilities ? "probability" : "output")}");
            for (int r = 0; r < p.Rows; r++)
            {
                var row = p.Span.Slice(r * p.Cols, p.Cols);
                int best = EvaluateCommand.ArgMax<float>(row);
                var all = string.Join(", ", Enumerable.Range(0, row.Length).Select(k => string.Create(CultureInfo.InvariantCulture, $"{names[k]}: {p.Span[r * p.Cols + k]:F4}")));
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"row {r}: {names[best]} {row[best]:F4}\t[{all}]"));
            }
            return 0;
        });
        return command;
    }

    /// <summary>(v − mean[c]) / std[c] for each value of (rows, channels × plane) pixels / 255, channel-major.</summary>
    /// <exception cref="UsageException">The inputs are not a whole number of planes of the normalisation's channels.</exception>
    internal static void Normalize(Matrix<float> x, Data.Augmentation.ChannelNormalization norm)
    {
        if (x.Cols % norm.Channels != 0) throw new UsageException($"The model normalises {norm.Channels} channels, which do not divide its {x.Cols} inputs.");
        int plane = x.Cols / norm.Channels;
        for (int r = 0; r < x.Rows; r++)
        {
            var row = x.Row(r);
            for (int j = 0; j < row.Length; j++) row[j] = (float)((row[j] - norm.Mean[j / plane]) / norm.Std[j / plane]);
        }
    }

    /// <summary>The samples in <paramref name="path"/> as (rows, <paramref name="inputs"/>), and a description of how they were read.</summary>
    /// <exception cref="UsageException">The file does not fit the model's inputs, or its kind is unknown.</exception>
    /// <exception cref="DataFormatException">The file is malformed.</exception>
    internal static (Matrix<float> X, string What) Read(string path, int inputs)
    {
        string name = path.ToLowerInvariant();
        if (ImageExtensions.Any(name.EndsWith)) return ReadImage(path, inputs);
        if (name.EndsWith(".npy", StringComparison.Ordinal)) return ReadNpy(path, inputs);
        if (name.EndsWith(".csv", StringComparison.Ordinal) || name.EndsWith(".csv.gz", StringComparison.Ordinal) || name.EndsWith(".txt", StringComparison.Ordinal))
            return ReadCsv(path, inputs);
        throw new UsageException($"INPUT: '{path}': unknown kind of file; expected .csv, .npy or an image ({string.Join(", ", ImageExtensions)}).");
    }

    private static (Matrix<float>, string) ReadCsv(string path, int inputs)
    {
        var rows = new List<float[]>();
        int lineNumber = 0;
        bool header = false;
        using var reader = new StreamReader(Gzip.OpenRead(path));
        while (ReadLine(reader, path) is { } line)
        {
            lineNumber++;
            if (line.Trim().Length == 0) continue;
            string[] cells = line.Split(',');
            var values = new float[cells.Length];
            bool numbers = true;
            for (int c = 0; c < cells.Length && numbers; c++)
                numbers = float.TryParse(cells[c], NumberStyles.Float, CultureInfo.InvariantCulture, out values[c]);
            if (!numbers)
            {
                // The first line may name the columns; any later cell must be a number.
                if (rows.Count == 0 && !header) { header = true; continue; }
                throw new DataFormatException($"{path}: line {lineNumber}: '{line}' holds a cell that is not a number.");
            }
            if (values.Length != inputs)
                throw new UsageException($"INPUT {path}: line {lineNumber} has {values.Length} values, but the model takes {inputs} inputs.");
            for (int c = 0; c < values.Length; c++)
                if (!float.IsFinite(values[c])) throw FiniteValues.Error<float>($"{path}: line {lineNumber}, column {c}", cells[c].Trim());
            rows.Add(values);
        }
        if (rows.Count == 0) throw new UsageException($"INPUT {path}: no rows of numbers.");
        var x = new Matrix<float>(rows.Count, inputs);
        for (int r = 0; r < rows.Count; r++) rows[r].CopyTo(x.Span.Slice(r * inputs, inputs));
        return (x, $"CSV, {rows.Count} rows of {inputs} values{(header ? " (header line skipped)" : "")}, used as given");
    }

    private static string? ReadLine(StreamReader reader, string path)
    {
        try { return reader.ReadLine(); }
        catch (InvalidDataException e) { throw new DataFormatException($"{path}: corrupt gzip data ({e.Message}).", e); }
    }

    private static (Matrix<float>, string) ReadNpy(string path, int inputs)
    {
        var array = Npy.Read(path);
        int[] shape = array.Shape;
        int rows = shape.Length switch
        {
            1 when shape[0] == inputs => 1,
            2 when shape[1] == inputs => shape[0],
            3 when shape[1] * shape[2] == inputs && !array.FortranOrder => shape[0],
            _ => throw new UsageException($"INPUT {path}: an array of shape ({string.Join(", ", shape)}) does not fit the model's {inputs} inputs; " +
                                          $"expected ({inputs}), (rows, {inputs}) or (rows, height, width) with height·width = {inputs} in C order."),
        };
        // uint8 arrays are pixels: scaled as the trainer scales image bytes.
        float scale = array.Type == NpyType.UInt8 ? 1f / 255 : 1f;
        var x = new Matrix<float>(rows, inputs);
        var span = x.Span;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < inputs; c++)
            {
                float value = shape.Length == 2 ? array.At<float>(r, c) : array.At<float>((long)r * inputs + c);
                if (!float.IsFinite(value)) throw FiniteValues.Error($"{path}: row {r}, column {c}", value);
                span[r * inputs + c] = scale * value;
            }
        return (x, $"NPY {array}, {rows} rows{(array.Type == NpyType.UInt8 ? ", pixels / 255" : ", used as given")}");
    }

    /// <summary>The largest image decoded: 64 megapixels (8192 × 8192, 256 MB as RGBA), far beyond any model input.</summary>
    internal const long MaxImagePixels = 64L << 20;

    // Decodes with the size checked first (a header may claim 60000×60000 in a few hundred bytes) and the
    // decoder's result checked after (an image whose data ends early is refused, not half-filled).
    private static SKBitmap Decode(string path)
    {
        using var codec = SKCodec.Create(path)
            ?? throw new DataFormatException($"{path}: not an image SkiaSharp can decode (PNG, JPEG, BMP, GIF, WebP).");
        var info = codec.Info;
        if ((long)info.Width * info.Height > MaxImagePixels || info.Width <= 0 || info.Height <= 0)
            throw new DataFormatException($"{path}: the image header gives {info.Width}×{info.Height} pixels; at most {MaxImagePixels >> 20} megapixels are decoded " +
                                          $"(a header that lies about the size, or an image far larger than any model input).");
        var bitmap = new SKBitmap(new SKImageInfo(info.Width, info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        try
        {
            if (bitmap.GetPixels() == IntPtr.Zero)
                throw new InsufficientMemoryException($"out of memory while decoding {path} ({info.Width}×{info.Height} pixels).");
            var result = codec.GetPixels(bitmap.Info, bitmap.GetPixels());
            if (result != SKCodecResult.Success)
                throw new DataFormatException($"{path}: the image data is incomplete or corrupt ({result}); expected {info.Width}×{info.Height} pixels.");
            return bitmap;
        }
        catch
        {
            bitmap.Dispose();
            throw;
        }
    }

    private static (Matrix<float>, string) ReadImage(string path, int inputs)
    {
        int grey = (int)Math.Round(Math.Sqrt(inputs)), colour = (int)Math.Round(Math.Sqrt(inputs / 3.0));
        bool isGrey = grey * grey == inputs, isColour = 3 * colour * colour == inputs;
        if (!isGrey && !isColour)
            throw new UsageException($"INPUT {path}: the model takes {inputs} inputs, which is neither k² (a k×k grey image) nor 3k² (a k×k RGB image); pass a CSV or NPY file instead.");
        using var decoded = Decode(path);
        int side = isGrey ? grey : colour;
        using var resized = decoded.Width == side && decoded.Height == side
            ? decoded.Copy(SKColorType.Rgba8888)
            : decoded.Resize(new SKImageInfo(side, side, SKColorType.Rgba8888, SKAlphaType.Unpremul), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
        var x = new Matrix<float>(1, inputs);
        var span = x.Span;
        for (int y = 0; y < side; y++)
            for (int xx = 0; xx < side; xx++)
            {
                var pixel = resized.GetPixel(xx, y);
                int at = y * side + xx;
                if (isGrey)
                    span[at] = (0.299f * pixel.Red + 0.587f * pixel.Green + 0.114f * pixel.Blue) / 255f;   // ITU-R BT.601 luma, as PIL's "L"
                else
                {
                    // CIFAR's layout: the red plane, then green, then blue.
                    span[at] = pixel.Red / 255f;
                    span[side * side + at] = pixel.Green / 255f;
                    span[2 * side * side + at] = pixel.Blue / 255f;
                }
            }
        string size = decoded.Width == side && decoded.Height == side ? $"{side}×{side}" : $"{decoded.Width}×{decoded.Height} resized to {side}×{side}";
        return (x, $"image {size}, {(isGrey ? "grey (BT.601 luma)" : "RGB, channel-major")}, pixels / 255");
    }
}
