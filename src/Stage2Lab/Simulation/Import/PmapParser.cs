using System.Text.RegularExpressions;

namespace Stage2Lab.Simulation.Import;

/// <summary>
/// `pmap -X PID` / `pmap -XX PID` (procps): a title `PID:   command`, a header naming the columns (`Address Perm Offset
/// Device Inode Size Rss ... Mapping`), one row per VMA with sizes in KiB and the mapping's base name last, and
/// a totals footer. -XX adds KernelPageSize and a VmFlags column of mnemonics. Without a header the -X layout is
/// taken (Size first after Inode). Plain `pmap` rows (no Offset column) cannot show a vfio-pci BAR mmap and are
/// reported as skipped.
/// </summary>
public static partial class PmapParser
{
    private const ulong KiB = 1024;

    public static void Parse(IReadOnlyList<CleanLine> lines, string file, ParsedRecords into)
    {
        string[]? columns = null;
        foreach (CleanLine line in lines)
        {
            var where = new SourceRef(file, line.Number);
            string text = line.Text;
            if (HeaderLine().IsMatch(text))
            {
                columns = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                continue;
            }
            if (Title().IsMatch(text))
            {
                if (text.Contains("x86_64", StringComparison.Ordinal))
                    into.X86Evidence.Add((where, "the VMM is qemu-system-x86_64"));
                continue;
            }
            if (Footer().IsMatch(text))
                continue;
            Match m = Row().Match(text);
            if (!m.Success)
            {
                into.Skipped.Add(new(where, PlainRow().IsMatch(text)
                    ? "a plain pmap row (no Offset column, so no vfio-pci BAR can be told apart): use pmap -X"
                    : RowStart().IsMatch(text) ? "a pmap -X row cut short: expected Address Perm Offset Device Inode Size ... Mapping"
                    : "not a line of pmap -X"));
                continue;
            }
            if (ToRecord(m, columns, where, into) is { } vma)
                into.Vmas.Add(vma);
        }
    }

    private static VmaRecord? ToRecord(Match m, string[]? columns, SourceRef where, ParsedRecords into)
    {
        if (!HexText.TryHex(m.Groups["a"].ValueSpan, out ulong start) || !HexText.TryHex(m.Groups["o"].ValueSpan, out ulong offset) ||
            !HexText.TryDecimal(m.Groups["i"].ValueSpan, out ulong inode))
        {
            into.Skipped.Add(new(where, "a number in the pmap row does not fit 64 bits"));
            return null;
        }
        string[] rest = m.Groups["rest"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // The numeric columns follow Inode in header order; -XX puts VmFlags (mnemonics) before Mapping.
        int inodeAt = columns is null ? -1 : Array.IndexOf(columns, "Inode");
        int numeric = inodeAt >= 0 ? NumericColumnsAfter(columns!, inodeAt) : CountLeadingNumbers(rest);
        if (numeric == 0 || !HexText.TryDecimal(rest[0], out ulong sizeKb))
        {
            into.Skipped.Add(new(where, "a pmap -X row without its Size column"));
            return null;
        }
        if (rest.Length < numeric)
        {
            into.Skipped.Add(new(where, $"a pmap -X row cut mid-line: {rest.Length} of the header's {numeric} number columns"));
            return null;
        }
        for (int k = 0; k < numeric; k++)
        {
            if (!HexText.TryDecimal(rest[k], out _))
            {
                into.Skipped.Add(new(where, $"column {k + 6} of the pmap row is '{rest[k]}', not a number of KiB (the row was cut or wrapped)"));
                return null;
            }
        }
        if (sizeKb == 0)
        {
            into.Skipped.Add(new(where, "a pmap row of size 0"));
            return null;
        }
        var vma = new VmaRecord
        {
            Start = start,
            End = start + sizeKb * KiB,
            Perms = m.Groups["p"].Value,
            OffsetBytes = offset,
            Device = m.Groups["d"].Value,
            Inode = inode,
            Path = "",
            Where = where,
            Format = RecordFormat.Pmap,
        };
        if (columns is not null && inodeAt >= 0)
        {
            int kpsAt = Array.IndexOf(columns, "KernelPageSize") - inodeAt - 1;
            if (kpsAt >= 0 && kpsAt < numeric && HexText.TryDecimal(rest[kpsAt], out ulong kps))
            {
                vma.KernelPageSizeBytes = kps * KiB;
                vma.KernelPageSizeWhere = where;
            }
            int ahpAt = Array.IndexOf(columns, "AnonHugePages") - inodeAt - 1;
            if (ahpAt >= 0 && ahpAt < numeric && HexText.TryDecimal(rest[ahpAt], out ulong ahp))
                vma.AnonHugePagesBytes = ahp * KiB;
            int thpAt = Array.IndexOf(columns, "THPeligible") - inodeAt - 1;
            if (thpAt >= 0 && thpAt < numeric)
                vma.ThpEligible = rest[thpAt] == "1";
        }
        int next = numeric;
        if (columns is not null && Array.IndexOf(columns, "VmFlags") >= 0)
        {
            var flags = new List<string>();
            while (next < rest.Length && IsMnemonic(rest[next]))
                flags.Add(rest[next++]);
            vma.VmFlags = flags.ToArray();
            vma.VmFlagsWhere = where;
        }
        vma.Path = string.Join(' ', rest, next, rest.Length - next);
        if (vma.Path.Contains("x86_64", StringComparison.Ordinal))
            into.X86Evidence.Add((where, $"the VMM maps '{vma.Path}'"));
        return vma;
    }

    private static int NumericColumnsAfter(string[] columns, int inodeAt)
    {
        int count = 0;
        for (int k = inodeAt + 1; k < columns.Length && columns[k] is not "VmFlags" and not "Mapping"; k++)
            count++;
        return count;
    }

    private static int CountLeadingNumbers(string[] tokens)
    {
        int n = 0;
        while (n < tokens.Length && HexText.TryDecimal(tokens[n], out _))
            n++;
        return n;
    }

    private static bool IsMnemonic(string token) => token.Length == 2 && (token == "??" || (char.IsAsciiLetterLower(token[0]) && char.IsAsciiLetterLower(token[1])));

    [GeneratedRegex(@"^Address\s+Perm\s+Offset\s+Device\s+Inode\s+Size\b")]
    private static partial Regex HeaderLine();

    /// <summary>`695044:   /opt/kata/bin/qemu-system-x86_64 -name ...`.</summary>
    [GeneratedRegex(@"^\d+:\s+\S")]
    private static partial Regex Title();

    /// <summary>The separator line and the totals row (numbers, maybe `KB`), or `total 1056085680K`.</summary>
    [GeneratedRegex(@"^(?:=+[\s=]*|(?:KB\s+)?\d+(?:\s+\d+)*(?:\s+KB)?|total\s+\d+K?)$")]
    private static partial Regex Footer();

    [GeneratedRegex(@"^(?<a>[0-9a-fA-F]{1,16})\s+(?<p>[r-][w-][x-][sp-])\s+(?<o>[0-9a-fA-F]{1,16})\s+(?<d>[0-9a-fA-F]+:[0-9a-fA-F]+)\s+(?<i>\d+)\s+(?<rest>.*)$")]
    private static partial Regex Row();

    [GeneratedRegex(@"^[0-9a-fA-F]{8,16}\s+\d+K\s+[r-][w-][x-][sS-][rR-]?\s")]
    private static partial Regex PlainRow();

    [GeneratedRegex(@"^[0-9a-fA-F]{8,16}\s+[r-][w-][x-][sp-]")]
    private static partial Regex RowStart();
}
