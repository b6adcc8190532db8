using System.Text.RegularExpressions;

namespace Stage2Lab.Simulation.Import;

/// <summary>
/// /proc/iomem (kernel/resource.c r_show): `START-END : NAME`, END inclusive, two spaces of indentation per nesting
/// level. Read without root the kernel prints every address as zero (the names remain): such lines are skipped.
/// </summary>
public static partial class IomemParser
{
    /// <summary>r_show indents each level by two spaces.</summary>
    private const int IndentPerLevel = 2;

    public static void Parse(IReadOnlyList<CleanLine> lines, string file, ParsedRecords into)
    {
        var rows = new List<(CleanLine Line, ulong Start, ulong End, string Name)>();
        int zero = 0;
        foreach (CleanLine line in lines)
        {
            var where = new SourceRef(file, line.Number);
            Match m = Row().Match(line.Text);
            if (!m.Success)
            {
                into.Skipped.Add(new(where, RowStart().IsMatch(line.Text) ? "an iomem line cut mid-line: expected START-END : NAME" : "not a line of /proc/iomem"));
                continue;
            }
            if (!HexText.TryHex(m.Groups["s"].ValueSpan, out ulong start) || !HexText.TryHex(m.Groups["e"].ValueSpan, out ulong end) || end < start)
            {
                into.Skipped.Add(new(where, "an iomem range that is reversed or does not fit 64 bits"));
                continue;
            }
            string name = m.Groups["name"].Value.Trim();
            if (start == 0 && end == 0)
            {
                zero++;
                into.Skipped.Add(new(where, $"'{name}' with zero addresses: /proc/iomem was read without root (read it with sudo)"));
                continue;
            }
            if (X86Names().IsMatch(name))
                into.X86Evidence.Add((where, $"the x86 resource '{name}'"));
            rows.Add((line, start, end, name));
        }
        if (rows.Count == 0)
            return;
        int baseIndent = rows.Min(r => r.Line.Indent);
        foreach (var (line, start, end, name) in rows)
            into.Iomem.Add(new IomemRow(start, end, name, (line.Indent - baseIndent) / IndentPerLevel, new SourceRef(file, line.Number)));
    }

    [GeneratedRegex(@"^(?<s>[0-9a-fA-F]{1,16})-(?<e>[0-9a-fA-F]{1,16})\s+:\s+(?<name>\S.*)$")]
    private static partial Regex Row();

    [GeneratedRegex(@"^[0-9a-fA-F]{1,16}-[0-9a-fA-F]{0,16}\s*:?\s*$")]
    private static partial Regex RowStart();

    [GeneratedRegex(@"^(?:System ROM|Video ROM|Adapter ROM|PCI conf1|IOAPIC \d+|HPET \d+|Local APIC|PCI MMCONFIG.*|pnp \d+:\d+|dmar\d+|ACPI Non-volatile Storage)$")]
    private static partial Regex X86Names();
}
