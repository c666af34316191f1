using System.Globalization;
using System.IO.Compression;
using System.Numerics;

namespace ScratchNet.Data;

/// <summary>
/// The UCI "Optical Recognition of Handwritten Digits" set (E. Alpaydin, C. Kaynak; CC BY 4.0, as
/// shipped by scikit-learn), embedded in the library: 1,797 8×8 images with pixels 0..16, ten classes.
/// See <c>Data/Embedded/ATTRIBUTION.md</c>.
/// </summary>
public static class Digits
{
    /// <summary>Pixels per image (8×8).</summary>
    public const int Features = 64;

    /// <summary>Number of classes, the digits 0..9.</summary>
    public const int Classes = 10;

    private const string ResourceName = "ScratchNet.Data.digits.csv.gz";

    /// <summary>Loads the embedded set: features scaled to [0, 1] (pixel / 16), one-hot targets.</summary>
    public static Dataset<T> Load<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var resource = typeof(Digits).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new DataFormatException($"The embedded resource {ResourceName} is missing from {typeof(Digits).Assembly.GetName().Name}.");
        return Read<T>(resource, "embedded digits.csv.gz");
    }

    /// <summary>
    /// Reads the digits CSV (gzip-compressed; per line 64 pixel values 0..16 then the label 0..9, no header).
    /// </summary>
    /// <param name="gzipCsv">The compressed CSV.</param>
    /// <param name="sourceName">Names the source in error messages.</param>
    /// <exception cref="DataFormatException">The stream is not gzip, or a line is malformed; the message names the line.</exception>
    public static Dataset<T> Read<T>(Stream gzipCsv, string sourceName) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var pixels = new List<T>();
        var labels = new List<int>();
        try
        {
            // A seekable stream (the embedded resource, a file) gets its gzip trailer checked too.
            using var reader = new StreamReader((Stream?)(gzipCsv.CanSeek ? Formats.Gzip.Decompress(gzipCsv) : null) ?? new GZipStream(gzipCsv, CompressionMode.Decompress));
            int lineNumber = 0;
            while (reader.ReadLine() is { } line)
            {
                lineNumber++;
                if (line.Length == 0) continue;
                var fields = line.Split(',');
                if (fields.Length != Features + 1)
                    throw new DataFormatException($"{sourceName}, line {lineNumber}: expected {Features + 1} comma-separated values (64 pixels and a label), found {fields.Length}.");
                for (int j = 0; j < Features; j++)
                    pixels.Add(T.CreateChecked(ParseInRange(fields[j], 16, sourceName, lineNumber, $"pixel {j}") / 16.0));
                labels.Add(ParseInRange(fields[Features], Classes - 1, sourceName, lineNumber, "label"));
            }
        }
        catch (InvalidDataException e)
        {
            throw new DataFormatException($"{sourceName}: not a valid gzip stream ({e.Message}).", e);
        }
        if (labels.Count == 0) throw new DataFormatException($"{sourceName}: no samples.");
        var features = new Matrix<T>(labels.Count, Features, pixels.ToArray());
        return new Dataset<T>("digits", features, Dataset<T>.OneHot(labels.ToArray(), Classes));
    }

    private static int ParseInRange(string field, int max, string source, int line, string what)
    {
        if (!int.TryParse(field, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < 0 || value > max)
            throw new DataFormatException($"{source}, line {line}: {what} is '{field}', expected an integer 0..{max}.");
        return value;
    }
}
