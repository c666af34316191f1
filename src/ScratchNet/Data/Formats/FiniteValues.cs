using System.Globalization;
using System.Numerics;

namespace ScratchNet.Data.Formats;

/// <summary>
/// The loaders' one rule for input values: every feature and target must be finite in the element type it is
/// loaded as. NaN and ±∞ in a file, and a finite double beyond float32's range (1e39 is +∞ as float32), are a
/// <see cref="DataFormatException"/> naming the file and the row, not a run that trains on NaN.
/// </summary>
public static class FiniteValues
{
    /// <summary><paramref name="value"/> as <typeparamref name="T"/>; false when it is not finite there.</summary>
    public static bool TryConvert<T>(double value, out T converted) where T : IFloatingPointIeee754<T>
    {
        converted = T.CreateChecked(value);
        return T.IsFinite(converted);
    }

    /// <summary>The rule's error for <paramref name="value"/>, read as a number, at <paramref name="where"/> (the file and the row).</summary>
    public static DataFormatException Error<T>(string where, T value) where T : IFloatingPointIeee754<T> =>
        Error<T>(where, double.CreateChecked(value).ToString("R", CultureInfo.InvariantCulture));

    /// <summary>The rule's error: <paramref name="text"/> (the value as written) at <paramref name="where"/> is not a finite value of <typeparamref name="T"/>.</summary>
    public static DataFormatException Error<T>(string where, string text) where T : IFloatingPointIeee754<T>
    {
        string type = typeof(T) == typeof(float) ? "float32" : typeof(T) == typeof(double) ? "float64" : typeof(T).Name;
        return new DataFormatException($"{where}: '{text}' is not a finite {type} value; input values must be finite (no NaN or infinity" +
                                       $"{(typeof(T) == typeof(float) ? ", nothing beyond ±3.4e38" : "")}).");
    }
}
