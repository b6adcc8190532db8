using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Numerics;

namespace Stage2Lab.Cli;

/// <summary>
/// Numeric options whose parse errors say what was expected ("a whole number from 0 to 18446744073709551615"),
/// through System.CommandLine's own error reporting, instead of naming a .NET type.
/// </summary>
internal static class NumberOptions
{
    public static Option<T> Required<T>(string name, string description, T defaultValue)
        where T : struct, INumber<T>, IMinMaxValue<T>
    {
        return new Option<T>(name)
        {
            Description = description,
            DefaultValueFactory = _ => defaultValue,
            CustomParser = result => Parse<T>(result, name) ?? defaultValue,
        };
    }

    public static Option<T?> Optional<T>(string name, string description)
        where T : struct, INumber<T>, IMinMaxValue<T>
    {
        return new Option<T?>(name)
        {
            Description = description,
            CustomParser = result => Parse<T>(result, name),
        };
    }

    private static T? Parse<T>(ArgumentResult result, string name)
        where T : struct, INumber<T>, IMinMaxValue<T>
    {
        if (result.Tokens.Count == 0)
            return null;
        string text = result.Tokens[^1].Value.Replace("_", "", StringComparison.Ordinal);
        bool real = typeof(T) == typeof(double) || typeof(T) == typeof(float);
        NumberStyles styles = real ? NumberStyles.Float : NumberStyles.Integer;
        if (T.TryParse(text, styles, CultureInfo.InvariantCulture, out T value))
            return value;
        result.AddError(real
            ? $"{name}: '{result.Tokens[^1].Value}' is not a number"
            : $"{name}: '{result.Tokens[^1].Value}' is not a whole number from {T.MinValue} to {T.MaxValue}");
        return null;
    }
}
