using Stage2Lab.Arch;
using Stage2Lab.Simulation.Campaigns;

namespace Stage2Lab.Simulation.Sweeps;

/// <summary>How a varied key's values are written, so that generated values read like the ones typed.</summary>
public enum AxisNotation : byte
{
    /// <summary>Words or mixed values (4K, 16K, madvise): shown as given, plotted one step apart.</summary>
    Text,
    /// <summary>Plain numbers.</summary>
    Decimal,
    /// <summary>Addresses (0x...).</summary>
    Hex,
    /// <summary>Sizes (4K, 2M, 1G).</summary>
    Size,
}

/// <summary>One --vary KEY=VALUES: the key path and its values, in order, as scenario text.</summary>
public sealed record SweepAxis(string Key, IReadOnlyList<string> Values, AxisNotation Notation)
{
    /// <summary>Most points a sweep may have (all axes multiplied): a bound on time and memory, not a model limit.</summary>
    public const long MaxPoints = 1_000_000;

    /// <summary>
    /// KEY=VALUES, VALUES a comma list (4K,16K,64K) or an inclusive range with a step (START..END/STEP, numbers as
    /// the scenario writes them: hex, decimal, K/M/G/T sizes, underscores allowed). The range ends at the last
    /// step not beyond END: END itself is a value when (END - START) is a multiple of STEP.
    /// </summary>
    public static SweepAxis Parse(string text)
    {
        int eq = text.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0)
            throw new CampaignException($"--vary '{text}' is not KEY=VALUES; expected e.g. --vary host.page-size=4K,16K,64K or --vary mappings.gpu-bar1.start=0x7f10_0000_0000..0x7f10_4000_0000/64M");
        string key = text[..eq].Trim();
        string values = text[(eq + 1)..].Trim();
        if (values.Length == 0)
            throw new CampaignException($"--vary {key}: no values; give a comma list (4K,16K) or a range START..END/STEP");
        return values.Contains("..", StringComparison.Ordinal) ? Range(key, values) : List(key, values);
    }

    private static SweepAxis List(string key, string values)
    {
        string[] items = [.. values.Split(',').Select(v => v.Trim())];
        if (items.Any(v => v.Length == 0))
            throw new CampaignException($"--vary {key}={values}: an empty value in the list (two commas, or one at an end)");
        if (items.Length > MaxPoints)
            throw new CampaignException($"--vary {key}: {items.Length:N0} values, more than the {MaxPoints:N0} a sweep may have");
        var duplicate = items.GroupBy(v => v, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new CampaignException($"--vary {key}: '{duplicate.Key}' is listed twice; each value once");
        AxisNotation notation = items.All(v => v.StartsWith("0x", StringComparison.OrdinalIgnoreCase) && TryNumber(v, out _)) ? AxisNotation.Hex
            : items.All(v => v.All(c => char.IsAsciiDigit(c) || c == '_')) ? AxisNotation.Decimal
            : items.All(v => TryNumber(v, out _)) ? AxisNotation.Size
            : AxisNotation.Text;
        return new SweepAxis(key, items, notation);
    }

    private static SweepAxis Range(string key, string values)
    {
        int dots = values.IndexOf("..", StringComparison.Ordinal);
        int slash = values.IndexOf('/', dots);
        if (slash < 0)
            throw new CampaignException($"--vary {key}={values}: a range needs a step: START..END/STEP, e.g. 0x7f10_0000_0000..0x7f10_4000_0000/64M");
        string startText = values[..dots].Trim(), endText = values[(dots + 2)..slash].Trim(), stepText = values[(slash + 1)..].Trim();
        ulong start = Number(key, startText, "start"), end = Number(key, endText, "end"), step = Number(key, stepText, "step");
        if (step == 0)
            throw new CampaignException($"--vary {key}={values}: the step is 0; give a step above 0");
        if (end < start)
            throw new CampaignException($"--vary {key}={values}: an empty range (the end {endText} is below the start {startText}); write START..END with START <= END");
        ulong count = (end - start) / step + 1;
        if (count > MaxPoints)
            throw new CampaignException($"--vary {key}={values}: {count:N0} values, more than the {MaxPoints:N0} a sweep may have; take a larger step");
        AxisNotation notation = startText.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? AxisNotation.Hex
            : char.IsAsciiLetter(startText[^1]) || char.IsAsciiLetter(endText[^1]) ? AxisNotation.Size
            : AxisNotation.Decimal;
        var items = new string[count];
        for (ulong i = 0; i < count; i++)
            items[i] = Write(start + i * step, notation);
        return new SweepAxis(key, items, notation);
    }

    private static ulong Number(string key, string text, string what)
    {
        if (TryNumber(text, out ulong value))
            return value;
        throw new CampaignException($"--vary {key}: the range's {what} '{text}' is not a number; expected hex (0x7f10_0000_0000), decimal, or a size like 64K, 2M, 1G");
    }

    /// <summary>A value as the scenario format reads numbers (hex, decimal, K/M/G/T, underscores).</summary>
    public static bool TryNumber(string text, out ulong value) =>
        NumberText.TryParse(text.Replace("_", "", StringComparison.Ordinal), out value);

    /// <summary>A number in the notation of the axis; what the scenario receives and what tables show.</summary>
    public static string Write(ulong value, AxisNotation notation) => notation switch
    {
        AxisNotation.Hex => SizeText.Hex(value),
        AxisNotation.Size => SizeText.Format(value),
        _ => value.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
