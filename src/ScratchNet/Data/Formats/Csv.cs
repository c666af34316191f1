using System.Globalization;
using System.Numerics;
using System.Text;

namespace ScratchNet.Data.Formats;

/// <summary>How to read a CSV file.</summary>
/// <param name="LabelColumn">The label column, by header name or 0-based index; null: the last column.</param>
/// <param name="HasHeader">Whether the first line names the columns; null: it does when none of its cells is a number.</param>
public sealed record CsvOptions(string? LabelColumn = null, bool? HasHeader = null);

/// <summary>
/// Comma-separated numeric samples, one per line (gzip-compressed or not): numeric feature cells and one
/// label column of class indices 0, 1, 2, … . Blank lines are skipped; cells are not quoted.
/// </summary>
public static class Csv
{
    /// <summary>The largest class index a label may be: each sample gets a one-hot row as wide as the largest label.</summary>
    public const int MaxLabel = 65_535;

    /// <summary>Reads a CSV file into a dataset named after the file: the other columns as features, the label column as one-hot targets.</summary>
    /// <exception cref="DataFormatException">A row of the wrong width, a cell that is not a finite number, a label that is not a class index, an unknown label column, or no rows; the message names the file, line and column.</exception>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    public static Dataset<T> Read<T>(string path, CsvOptions? options = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        options ??= new CsvOptions();
        var (source, stream) = FormatReader.OpenMaybeGzip(path);
        using var reader = new StreamReader(stream, Encoding.UTF8); // disposes the stream
        string where = source.Source;
        var features = new List<T>();
        var labels = new List<int>();
        string[]? names = null;
        int width = -1, labelColumn = -1, lineNumber = 0, firstLine = 0;
        try
        {
            while (reader.ReadLine() is { } line)
            {
                lineNumber++;
                if (string.IsNullOrWhiteSpace(line)) continue;
                string[] cells = line.Split(',');
                if (width < 0)
                {
                    // The first line fixes the width, and may be a header.
                    width = cells.Length;
                    firstLine = lineNumber;
                    if (width < 2) throw new DataFormatException($"{where}, line {lineNumber}: 1 column; expected features and a label, at least 2 columns.");
                    bool header = options.HasHeader ?? cells.All(c => !IsNumber(c));
                    if (header) names = [.. cells.Select(c => c.Trim().Trim('"'))];
                    labelColumn = FindLabelColumn(options.LabelColumn, names, width, where);
                    if (header) continue;
                }
                if (cells.Length != width)
                    throw new DataFormatException($"{where}, line {lineNumber}: {cells.Length} cells; expected {width}, as on line {firstLine}.");
                for (int c = 0; c < width; c++)
                {
                    if (c == labelColumn)
                    {
                        labels.Add(ParseLabel(cells[c], where, lineNumber, ColumnName(c, names)));
                        continue;
                    }
                    if (!double.TryParse(cells[c], NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
                        throw new DataFormatException($"{where}, line {lineNumber}, {ColumnName(c, names)}: '{Shorten(cells[c])}' is not a finite number.");
                    if (!FiniteValues.TryConvert(value, out T converted))
                        throw FiniteValues.Error<T>($"{where}, line {lineNumber}, {ColumnName(c, names)}", Shorten(cells[c]));
                    features.Add(converted);
                }
            }
        }
        catch (InvalidDataException e)
        {
            throw new DataFormatException($"{where}, line {lineNumber + 1}: corrupt gzip data ({e.Message}).", e);
        }
        if (labels.Count == 0) throw new DataFormatException($"{where}: no data rows; expected numeric features and a label per line.");

        var x = new Matrix<T>(labels.Count, width - 1, features.ToArray());
        return new Dataset<T>(Path.GetFileName(path).Split('.')[0], x, Dataset<T>.OneHot(labels.ToArray(), labels.Max() + 1));
    }

    /// <summary>
    /// Writes <paramref name="samples"/> as CSV, atomically: the features, then the class (argmax of the
    /// targets) in a last column "label"; a header line f0,f1,…,label when <paramref name="header"/>.
    /// </summary>
    public static void Write<T>(string path, ISampleSource<T> samples, bool header = true) where T : unmanaged, IFloatingPointIeee754<T>
    {
        AtomicFile.Write(path, file =>
        {
            using var writer = new StreamWriter(file, new UTF8Encoding(false), leaveOpen: true);
            if (header) writer.WriteLine(string.Join(',', Enumerable.Range(0, samples.FeatureCount).Select(i => $"f{i}").Append("label")));
            var x = new Matrix<T>(0, samples.FeatureCount);
            var y = new Matrix<T>(0, samples.TargetCount);
            for (int row = 0; row < samples.Count; row++)
            {
                samples.Gather([row], x, y);
                foreach (T value in x.Row(0)) writer.Write(string.Create(CultureInfo.InvariantCulture, $"{value:R},"));
                writer.WriteLine(samples.ClassOf(row).ToString(CultureInfo.InvariantCulture));
            }
        });
    }

    private static int FindLabelColumn(string? label, string[]? names, int width, string where)
    {
        if (label is null) return width - 1;
        if (names is not null && Array.IndexOf(names, label) is var named and >= 0) return named;
        if (int.TryParse(label, NumberStyles.None, CultureInfo.InvariantCulture, out int index))
            return index < width ? index : throw new DataFormatException($"{where}: label column {index} does not exist; the file has {width} columns (0..{width - 1}).");
        throw new DataFormatException(names is null
            ? $"{where}: the label column '{label}' is a name but the file has no header; give a 0-based index."
            : $"{where}: no column '{label}'; the header names {string.Join(", ", names.Select(Shorten))}.");
    }

    private static int ParseLabel(string cell, string where, int line, string column)
    {
        if (!int.TryParse(cell.Trim(), NumberStyles.AllowLeadingWhite | NumberStyles.AllowTrailingWhite, CultureInfo.InvariantCulture, out int label)
            || label < 0 || label > MaxLabel)
            throw new DataFormatException($"{where}, line {line}, {column} (the label): '{Shorten(cell)}' is not a class index; expected an integer 0..{MaxLabel}.");
        return label;
    }

    private static bool IsNumber(string cell) => double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    private static string ColumnName(int column, string[]? names) =>
        names is null ? $"column {column}" : $"column {column} ('{Shorten(names[column])}')";

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
