using System.Globalization;
using System.Numerics;
using System.Text;

namespace ScratchNet;

/// <summary>Text previews of matrices: the shape, then the corner rows and columns, as numpy prints a large array.</summary>
public static class MatrixText
{
    /// <summary>Rows shown by <see cref="Matrix{T}.ToString()"/> before eliding the middle ones.</summary>
    public const int DefaultRows = 6;

    /// <summary>Columns shown by <see cref="Matrix{T}.ToString()"/> before eliding the middle ones.</summary>
    public const int DefaultCols = 8;

    /// <summary>
    /// <c>Matrix&lt;float&gt; (rows, cols)</c> and, on the lines after it, at most <paramref name="maxRows"/> rows of at most
    /// <paramref name="maxCols"/> values (4 significant digits, invariant culture); the middle rows and columns of a larger
    /// matrix are shown as <c>…</c>. An empty matrix prints its shape alone.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxRows"/> or <paramref name="maxCols"/> is below 2.</exception>
    public static string Preview<T>(Matrix<T> matrix, int maxRows = DefaultRows, int maxCols = DefaultCols) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(matrix);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCols, 2);
        var text = new StringBuilder(Shape(matrix));
        if (matrix.Length == 0) return text.ToString();
        int[] rows = Shown(matrix.Rows, maxRows), cols = Shown(matrix.Cols, maxCols);
        var cells = rows.Select(r => cols.Select(c => c < 0 || r < 0 ? "…" : Format(matrix[r, c])).ToArray()).ToArray();
        int width = cells.Max(row => row.Max(cell => cell.Length));
        for (int i = 0; i < rows.Length; i++)
        {
            text.Append('\n').Append(i == 0 ? "[[" : " [");
            text.Append(string.Join(", ", cells[i].Select(cell => cell.PadLeft(width))));
            text.Append(i == rows.Length - 1 ? "]]" : "]");
        }
        return text.ToString();
    }

    /// <summary>The type and shape alone, e.g. <c>Matrix&lt;float&gt; (32, 784)</c>.</summary>
    public static string Shape<T>(Matrix<T> matrix) where T : unmanaged, IFloatingPointIeee754<T> =>
        $"Matrix<{(typeof(T) == typeof(float) ? "float" : typeof(T) == typeof(double) ? "double" : typeof(T).Name)}> ({matrix.Rows}, {matrix.Cols})";

    /// <summary>One value as the preview prints it: 4 significant digits, invariant culture.</summary>
    public static string Format<T>(T value) where T : unmanaged, IFloatingPointIeee754<T> =>
        double.CreateChecked(value).ToString("G4", CultureInfo.InvariantCulture);

    // The indices shown out of count: all of them, or the first and last halves of max with -1 (an ellipsis) between.
    private static int[] Shown(int count, int max)
    {
        if (count <= max) return [.. Enumerable.Range(0, count)];
        int head = (max + 1) / 2, tail = max / 2;
        return [.. Enumerable.Range(0, head), -1, .. Enumerable.Range(count - tail, tail)];
    }
}
