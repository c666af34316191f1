using System.Collections;

namespace ScratchNet;

/// <summary>
/// The shape of one sample as a layer sees it: <c>(784)</c> for a flat vector, <c>(3, 32, 32)</c> for a
/// channels × height × width image. Batches are stored as (batch, <see cref="Size"/>) matrices, each row
/// the sample's elements in row-major (C, H, W) order; the shape says how a layer reads that row.
/// </summary>
/// <remarks>A value type with value equality; every dimension is positive.</remarks>
public readonly struct Shape : IEquatable<Shape>, IReadOnlyList<int>
{
    private readonly int[]? _dimensions;

    /// <summary>A shape of the given dimensions, outermost first.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is not positive.</exception>
    /// <exception cref="ArgumentException">No dimensions, or more elements than an array holds.</exception>
    public Shape(params ReadOnlySpan<int> dimensions)
    {
        if (dimensions.Length == 0) throw new ArgumentException("A shape needs at least one dimension.", nameof(dimensions));
        long size = 1;
        foreach (int d in dimensions)
        {
            if (d <= 0) throw new ArgumentOutOfRangeException(nameof(dimensions), $"The shape ({string.Join(", ", dimensions.ToArray())}) has a dimension that is not positive.");
            size *= d;
            if (size > Array.MaxLength) throw new ArgumentException($"The shape ({string.Join(", ", dimensions.ToArray())}) holds more elements than an array can.", nameof(dimensions));
        }
        _dimensions = dimensions.ToArray();
        Size = (int)size;
    }

    /// <summary>Elements per sample: the product of the dimensions.</summary>
    public int Size { get; }

    /// <summary>Number of dimensions.</summary>
    public int Rank => Dimensions.Length;

    /// <summary>Dimension <paramref name="index"/>, outermost first.</summary>
    public int this[int index] => Dimensions[index];

    /// <inheritdoc/>
    public int Count => Rank;

    private int[] Dimensions => _dimensions ?? throw new InvalidOperationException("A default Shape has no dimensions.");

    /// <summary>The dimensions as a new array.</summary>
    public int[] ToArray() => (int[])Dimensions.Clone();

    /// <summary>The dimensions as <see cref="long"/>, as file formats write them.</summary>
    public long[] ToLongArray() => Array.ConvertAll(Dimensions, d => (long)d);

    /// <inheritdoc/>
    public bool Equals(Shape other) => Dimensions.AsSpan().SequenceEqual(other.Dimensions);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Shape other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (int d in Dimensions) hash.Add(d);
        return hash.ToHashCode();
    }

    /// <summary>Value equality.</summary>
    public static bool operator ==(Shape left, Shape right) => left.Equals(right);

    /// <summary>Value inequality.</summary>
    public static bool operator !=(Shape left, Shape right) => !left.Equals(right);

    /// <summary>A flat shape of <paramref name="size"/> elements.</summary>
    public static implicit operator Shape(int size) => new(size);

    /// <inheritdoc/>
    public IEnumerator<int> GetEnumerator() => ((IEnumerable<int>)Dimensions).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The dimensions in parentheses, e.g. "(3, 32, 32)".</summary>
    public override string ToString() => _dimensions is null ? "()" : $"({string.Join(", ", _dimensions)})";
}
