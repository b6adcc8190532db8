using System.Globalization;

namespace Stage2Lab.Arch;

/// <summary>Sizes and addresses as people read them.</summary>
public static class SizeText
{
    /// <summary>"4K", "2M", "1G", "32G", or hex when it is no round unit.</summary>
    public static string Format(ulong sizeBytes)
    {
        if (sizeBytes == 0)
            return "0";
        ReadOnlySpan<string> units = ["", "K", "M", "G", "T"];
        for (int i = units.Length - 1; i > 0; i--)
        {
            ulong unit = 1UL << (10 * i);
            if (sizeBytes % unit == 0)
                return (sizeBytes / unit).ToString(CultureInfo.InvariantCulture) + units[i];
        }
        return Hex(sizeBytes);
    }

    public static string Hex(ulong value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);
}
