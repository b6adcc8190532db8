using System.Globalization;

namespace Stage2Lab.Simulation.Import;

/// <summary>Number parsing for record fields: hex with or without 0x, decimal, and lspci/smaps size units.</summary>
public static class HexText
{
    public static bool TryHex(ReadOnlySpan<char> text, out ulong value)
    {
        if (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            text = text[2..];
        value = 0;
        return text.Length is > 0 and <= 16 && ulong.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
    }

    public static bool TryDecimal(ReadOnlySpan<char> text, out ulong value) =>
        ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);

    /// <summary>lspci's show_size: a whole number and K, M, G or T (powers of 1024), e.g. `256G`, `16K`, `512`.</summary>
    public static bool TrySize(ReadOnlySpan<char> text, out ulong bytes)
    {
        bytes = 0;
        if (text.IsEmpty)
            return false;
        int shift = char.ToUpperInvariant(text[^1]) switch { 'K' => 10, 'M' => 20, 'G' => 30, 'T' => 40, _ => 0 };
        if (shift != 0)
            text = text[..^1];
        if (!TryDecimal(text, out ulong n) || n > (ulong.MaxValue >> shift))
            return false;
        bytes = n << shift;
        return true;
    }

    public static string Hex(ulong value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);
}
