using System.Numerics;

namespace ScratchNet;

/// <summary>
/// One array that several workspace matrices take turns in (<see cref="Matrix{T}.ShareStorage"/>), when their owners know
/// that no two of them are live at once: a network's layers share two of these for their input gradients. It grows to the
/// widest sharer's size at the rows asked, once, so that the first batch allocates what every later one needs.
/// </summary>
internal sealed class SharedStorage<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly List<Matrix<T>> _sharers = [];
    private int _widest;
    private T[] _data = [];

    /// <summary>Binds <paramref name="matrix"/>; returns the current array.</summary>
    internal T[] Add(Matrix<T> matrix)
    {
        _sharers.Add(matrix);
        _widest = Math.Max(_widest, matrix.Cols);
        return _data;
    }

    internal void Remove(Matrix<T> matrix)
    {
        _sharers.Remove(matrix);
        _widest = 0;
        foreach (var m in _sharers) _widest = Math.Max(_widest, m.Cols);
    }

    /// <summary>The array, grown when <paramref name="needed"/> elements do not fit (to <paramref name="rows"/> rows of the widest sharer, all sharers moved onto it).</summary>
    internal T[] Fit(long needed, int rows)
    {
        if (needed <= _data.Length) return _data;
        long size = Math.Max(needed, (long)rows * _widest);
        if (size > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(rows), $"A shared buffer of {size} elements is more than an array can hold.");
        _data = [];   // the old array goes before the new one is allocated
        foreach (var m in _sharers) m.Rebind(_data);
        _data = new T[size];
        foreach (var m in _sharers) m.Rebind(_data);
        return _data;
    }
}
