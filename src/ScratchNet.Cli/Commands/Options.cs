using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Numerics;

namespace ScratchNet.Cli.Commands;

/// <summary>
/// Option factories whose parse errors are one plain line naming the option, the value and what was
/// expected (System.CommandLine's own messages name CLR types and list choices over several lines).
/// </summary>
internal static class Options
{
    /// <summary>An optional number: null when the option is absent.</summary>
    public static Option<TNumber?> Number<TNumber>(string name, string description) where TNumber : struct, INumber<TNumber> =>
        new(name)
        {
            Description = description,
            CustomParser = result =>
            {
                string token = result.Tokens.Single().Value;
                // Invariant culture, no group separators: "0,05" and "1,0" are errors, not 5 and 10; whole numbers take no point or exponent.
                var style = typeof(TNumber) == typeof(double) || typeof(TNumber) == typeof(float) ? NumberStyles.Float : NumberStyles.Integer;
                if (TNumber.TryParse(token, style, CultureInfo.InvariantCulture, out var value)) return value;
                result.AddError($"{name}: '{token}' is not {(typeof(TNumber) == typeof(double) ? "a number" : "a whole number")}.");
                return null;
            },
        };

    /// <summary>One of <paramref name="choices"/>, defaulting to <paramref name="defaultValue"/> (null: absent).</summary>
    public static Option<string?> Choice(string name, string description, string[] choices, string? defaultValue = null)
    {
        var option = new Option<string?>(name)
        {
            Description = $"{description} One of: {string.Join(", ", choices)}.",
            CustomParser = result =>
            {
                string token = result.Tokens.Single().Value;
                if (choices.Contains(token)) return token;
                result.AddError($"{name}: unknown value '{token}'; expected one of {string.Join(", ", choices)}.");
                return null;
            },
        };
        if (defaultValue is not null) option.DefaultValueFactory = _ => defaultValue;
        return option;
    }
}
