namespace ScratchNet.Data.Formats;

/// <summary>Which of CIFAR-100's two labels to train on.</summary>
public enum CifarLabels
{
    /// <summary>The 100 fine classes (e.g. "maple_tree").</summary>
    Fine,

    /// <summary>The 20 coarse superclasses (e.g. "trees").</summary>
    Coarse,
}

/// <summary>
/// The CIFAR binary format: fixed-size records with no header. A CIFAR-10 record is a label byte
/// (0..9) then 3,072 pixel bytes; a CIFAR-100 record is a coarse label (0..19), a fine label (0..99),
/// then the pixels. Pixels are 32×32 per channel, the red plane, then green, then blue, each row-major.
/// </summary>
public static class Cifar
{
    /// <summary>Image side in pixels.</summary>
    public const int Side = 32;

    /// <summary>Pixel bytes per image: 3 channels of 32×32.</summary>
    public const int ImageBytes = 3 * Side * Side;

    /// <summary>Classes of CIFAR-10.</summary>
    public const int Classes10 = 10;

    /// <summary>Fine classes of CIFAR-100.</summary>
    public const int FineClasses = 100;

    /// <summary>Coarse classes of CIFAR-100.</summary>
    public const int CoarseClasses = 20;

    /// <summary>Reads CIFAR-10 binary batches (e.g. data_batch_1.bin … data_batch_5.bin), in order, into one set.</summary>
    /// <exception cref="DataFormatException">A file is empty, is not a whole number of records, or has a label above 9; the message names the file and offset.</exception>
    public static ImageSet Read10(IReadOnlyList<string> paths, string name) => Read(paths, labelBytes: 1, labelIndex: 0, Classes10, name);

    /// <summary>Reads CIFAR-100 binary files (train.bin or test.bin) with the fine or the coarse labels.</summary>
    /// <exception cref="DataFormatException">A file is empty, is not a whole number of records, or has a label out of range.</exception>
    public static ImageSet Read100(IReadOnlyList<string> paths, CifarLabels labels, string name) =>
        labels == CifarLabels.Fine
            ? Read(paths, labelBytes: 2, labelIndex: 1, FineClasses, name)
            : Read(paths, labelBytes: 2, labelIndex: 0, CoarseClasses, name);

    private static ImageSet Read(IReadOnlyList<string> paths, int labelBytes, int labelIndex, int classes, string name)
    {
        int recordBytes = labelBytes + ImageBytes;
        string[] labelNames = labelBytes == 1 ? ["label"] : ["coarse label", "fine label"];
        var lengths = new long[paths.Count];
        long images = 0;
        for (int f = 0; f < paths.Count; f++)
        {
            // The length of what the path opens (a symbolic link's target, not the link); FileNotFoundException names a missing file.
            using (var opened = new FileStream(paths[f], FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1)) lengths[f] = opened.Length;
            if (lengths[f] == 0 || lengths[f] % recordBytes != 0)
                throw new DataFormatException(lengths[f] == 0
                    ? $"{paths[f]}: the file is empty; expected {recordBytes}-byte records."
                    : $"{paths[f]}, offset {lengths[f] - lengths[f] % recordBytes}: the last record is cut short ({lengths[f] % recordBytes} of {recordBytes} bytes; the file's {lengths[f]} bytes are not a whole number of records; truncated file?).");
            images += lengths[f] / recordBytes;
        }
        if (images * ImageBytes > Array.MaxLength)
            throw new DataFormatException($"{string.Join(", ", paths)}: {images} images need {images * ImageBytes} bytes, more than one array holds.");

        var pixels = new byte[images * ImageBytes];
        var labels = new byte[images];
        var record = new byte[recordBytes];
        long image = 0;
        for (int f = 0; f < paths.Count; f++)
        {
            using var file = new FileStream(paths[f], FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
            var reader = new FormatReader(file, paths[f], lengths[f]);
            for (long r = 0; r < lengths[f] / recordBytes; r++, image++)
            {
                long offset = reader.Offset;
                reader.ReadExactly(record, $"record {r}");
                // Every label byte is checked, whichever is trained on: a bad one means a bad file.
                for (int k = 0; k < labelBytes; k++)
                {
                    int limit = labelBytes == 1 ? Classes10 : k == 0 ? CoarseClasses : FineClasses;
                    if (record[k] >= limit)
                        throw reader.ErrorAt(offset + k, $"record {r}: {labelNames[k]} {record[k]} is not a class; expected 0..{limit - 1}.");
                }
                labels[image] = record[labelIndex];
                record.AsSpan(labelBytes).CopyTo(pixels.AsSpan(checked((int)(image * ImageBytes)), ImageBytes));
            }
            reader.ExpectEnd($"record {lengths[f] / recordBytes - 1}"); // the file grew while we read it
        }
        return new ImageSet(name, Side, Side, 3, pixels, labels, classes);
    }

    /// <summary>
    /// Writes a CIFAR binary file atomically: CIFAR-10 records when <paramref name="coarseLabels"/> is
    /// empty, else CIFAR-100 records (coarse, fine, pixels) with <paramref name="labels"/> as the fine labels.
    /// </summary>
    /// <param name="path">The file to write.</param>
    /// <param name="pixels">(images, 3,072) row-major, planes red, green, blue.</param>
    /// <param name="labels">CIFAR-10 labels, or CIFAR-100 fine labels.</param>
    /// <param name="coarseLabels">CIFAR-100 coarse labels; empty for CIFAR-10.</param>
    /// <exception cref="ArgumentException">The sizes disagree.</exception>
    public static void Write(string path, ReadOnlySpan<byte> pixels, ReadOnlySpan<byte> labels, ReadOnlySpan<byte> coarseLabels = default)
    {
        bool hundred = !coarseLabels.IsEmpty;
        if (pixels.Length != labels.Length * ImageBytes || (hundred && coarseLabels.Length != labels.Length))
            throw new ArgumentException($"{labels.Length} labels need {labels.Length * ImageBytes} pixel bytes{(hundred ? " and as many coarse labels" : "")}; got {pixels.Length} pixel bytes.", nameof(pixels));
        int labelBytes = hundred ? 2 : 1;
        var records = new byte[labels.Length * (labelBytes + ImageBytes)];
        for (int i = 0; i < labels.Length; i++)
        {
            var record = records.AsSpan(i * (labelBytes + ImageBytes), labelBytes + ImageBytes);
            if (hundred) record[0] = coarseLabels[i];
            record[labelBytes - 1] = labels[i];
            pixels.Slice(i * ImageBytes, ImageBytes).CopyTo(record[labelBytes..]);
        }
        AtomicFile.Write(path, file => file.Write(records));
    }
}
