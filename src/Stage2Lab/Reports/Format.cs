using System.Globalization;

namespace Stage2Lab.Reports;

/// <summary>Numbers as the reports print them: grouped counts, binary sizes, durations, ratios.</summary>
public static class Format
{
    public static string Count(long value) => value.ToString("#,0", CultureInfo.InvariantCulture);

    public static string Count(ulong value) => value.ToString("#,0", CultureInfo.InvariantCulture);

    public static string Bytes(double bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        int u = 0;
        while (Math.Abs(bytes) >= 1024 && u < units.Length - 1)
        {
            bytes /= 1024;
            u++;
        }
        return u == 0 ? $"{bytes:0} B" : bytes.ToString(bytes >= 100 ? "0" : bytes >= 10 ? "0.0" : "0.00", CultureInfo.InvariantCulture) + " " + units[u];
    }

    public static string Duration(double ns)
    {
        if (ns >= 1e9) return (ns / 1e9).ToString("0.00", CultureInfo.InvariantCulture) + " s";
        if (ns >= 1e6) return (ns / 1e6).ToString("0.0", CultureInfo.InvariantCulture) + " ms";
        if (ns >= 1e3) return (ns / 1e3).ToString("0.0", CultureInfo.InvariantCulture) + " µs";
        return ns.ToString("0", CultureInfo.InvariantCulture) + " ns";
    }

    /// <summary>value / baseline as "×0.25", or "" for the baseline itself or when it is zero.</summary>
    public static string Ratio(double value, double baseline)
    {
        if (baseline == 0)
            return value == 0 ? "" : "new";
        if (value == 0)
            return "×0";
        double r = value / baseline;
        return "×" + r.ToString(r >= 10 ? "0" : r >= 0.1 ? "0.00" : "0.0000", CultureInfo.InvariantCulture);
    }

    public static string Hex(ulong value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);
}
