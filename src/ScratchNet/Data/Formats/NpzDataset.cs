using System.Buffers.Binary;
using System.Numerics;

namespace ScratchNet.Data.Formats;

/// <summary>
/// The report's cache of a dataset (<c>load_dataset_flattened</c>): an .npz file with <c>x</c>, features ×
/// samples, and <c>y</c>, targets (one-hot labels) × samples, one sample per column. ScratchNet's
/// tensors hold one sample per row, so reading transposes.
/// </summary>
public static class NpzDataset
{
    // Rows converted per step when saving: bounds the memory a save needs beyond the source itself.
    private const int ChunkRows = 1024;

    /// <summary>Reads the report's layout into a dataset named after the file.</summary>
    /// <exception cref="DataFormatException">The file is not a valid NPZ, lacks x or y, they are not two-dimensional, or they differ in samples.</exception>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    public static Dataset<T> Load<T>(string path) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var arrays = Npz.Read(path);
        var x = Require(arrays, "x", path);
        var y = Require(arrays, "y", path);
        if (x.Shape[1] != y.Shape[1])
            throw new DataFormatException($"{path}: x has {x.Shape[1]} samples (columns) but y has {y.Shape[1]}; expected x (features × samples) and y (targets × samples).");
        return new Dataset<T>(Path.GetFileNameWithoutExtension(path), Transpose<T>(x, path, "x"), Transpose<T>(y, path, "y"));
    }

    /// <summary>
    /// Writes <paramref name="samples"/> in the report's layout, atomically: <c>x</c> (features × samples)
    /// and <c>y</c> (targets × samples) as float32 or float64 (as <typeparamref name="T"/>). The arrays are
    /// stored in Fortran order, so each sample's column is contiguous and is written as it is gathered;
    /// numpy reads them as the same (features, samples) arrays.
    /// </summary>
    public static void Save<T>(string path, ISampleSource<T> samples, bool compress = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Npz.Write(path, compress,
        [
            ("x", stream => WriteColumns(stream, samples, samples.FeatureCount, features: true)),
            ("y", stream => WriteColumns(stream, samples, samples.TargetCount, features: false)),
        ]);
    }

    private static NpyArray Require(IReadOnlyDictionary<string, NpyArray> arrays, string name, string path)
    {
        if (!arrays.TryGetValue(name, out var array))
            throw new DataFormatException($"{path}: no array '{name}' (found: {(arrays.Count == 0 ? "none" : string.Join(", ", arrays.Keys))}); expected x (features × samples) and y (targets × samples).");
        if (array.Shape.Length != 2)
            throw new DataFormatException($"{path}, array '{name}': shape ({string.Join(", ", array.Shape)}); expected two dimensions ({(name == "x" ? "features" : "targets")} × samples).");
        return array;
    }

    // (a, samples) → (samples, a): column s of the array becomes row s of the tensor.
    // Every value must be finite as T (FiniteValues); an error names the sample (the row it becomes) and the feature.
    private static Matrix<T> Transpose<T>(NpyArray array, string path, string name) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int width = array.Shape[0], count = array.Shape[1];
        var tensor = new Matrix<T>(count, width);
        var span = tensor.Span;
        for (int s = 0; s < count; s++)
            for (int f = 0; f < width; f++)
            {
                T value = array.At<T>(f, s);
                if (!T.IsFinite(value)) throw FiniteValues.Error($"{path}, array '{name}', sample {s} (column {s}; row {s} of the data), {(name == "x" ? "feature" : "target")} {f}", value);
                span[s * width + f] = value;
            }
        return tensor;
    }

    private static void WriteColumns<T>(Stream stream, ISampleSource<T> samples, int width, bool features) where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool single = typeof(T) == typeof(float);
        Npy.WriteHeader(stream, single ? NpyType.Float32 : NpyType.Float64, [width, samples.Count], fortranOrder: true);
        var x = new Matrix<T>(0, samples.FeatureCount);
        var y = new Matrix<T>(0, samples.TargetCount);
        int size = single ? 4 : 8;
        var bytes = new byte[ChunkRows * width * size];
        var rows = new int[ChunkRows];
        for (int start = 0; start < samples.Count; start += ChunkRows)
        {
            int count = Math.Min(ChunkRows, samples.Count - start);
            for (int i = 0; i < count; i++) rows[i] = start + i;
            samples.Gather(rows.AsSpan(0, count), x, y);
            var values = (features ? x : y).Span;
            for (int i = 0; i < values.Length; i++)
            {
                if (single) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), float.CreateTruncating(values[i]));
                else BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(i * 8), double.CreateTruncating(values[i]));
            }
            stream.Write(bytes, 0, values.Length * size);
        }
    }
}
