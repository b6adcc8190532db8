using System.Text.RegularExpressions;

namespace Stage2Lab.Simulation.Import;

/// <summary>
/// /proc/PID/maps and /proc/PID/smaps (fs/proc/task_mmu.c): a header per VMA, `START-END PERMS OFFSET MAJ:MIN INODE
/// [PATH]` with END exclusive and OFFSET = vm_pgoff &lt;&lt; PAGE_SHIFT; smaps follows each header with `Field: N kB`
/// lines, `THPeligible: 0|1` and `VmFlags:` (two-letter mnemonics from show_smap_vma_flags). A header cut after a few
/// fields is joined with the next line (a hard wrap), and a lone path on the next line completes a header that
/// has none (a path wrapped onto its own line).
/// </summary>
public static partial class MapsParser
{
    private const ulong KiB = 1024;

    public static void Parse(IReadOnlyList<CleanLine> lines, string file, RecordFormat format, ParsedRecords into)
    {
        VmaRecord? current = null;
        for (int i = 0; i < lines.Count; i++)
        {
            CleanLine line = lines[i];
            var where = new SourceRef(file, line.Number);
            string text = line.Text;
            if (IsHex(text[0]) && text.IndexOf('-') > 0)
            {
                Match m = Header().Match(text);
                if (!m.Success && Partial().IsMatch(text) && i + 1 < lines.Count)
                {
                    Match joined = Header().Match(text + " " + lines[i + 1].Text);
                    if (joined.Success)
                    {
                        m = joined;
                        i++;
                    }
                }
                if (!m.Success && HeaderInside().Match(text) is { Success: true, Index: > 0 } inside)
                    m = Header().Match(text[inside.Index..]);
                if (!m.Success)
                {
                    into.Skipped.Add(new(where, Partial().IsMatch(text)
                        ? "a VMA header cut short: expected START-END PERMS OFFSET DEV INODE [PATH]"
                        : "not a VMA header: expected START-END PERMS OFFSET DEV INODE [PATH]"));
                    current = null;
                    continue;
                }
                current = ToRecord(m, where, format, into);
                if (current is null)
                    continue;
                if (current.Path.Length == 0 && i + 1 < lines.Count && LonePath().IsMatch(lines[i + 1].Text))
                {
                    current.Path = lines[i + 1].Text;
                    i++;
                }
                into.Vmas.Add(current);
                continue;
            }
            if (TryField(text, where, current, into))
                continue;
            if (HeaderInside().Match(text) is { Success: true, Index: > 0 } prefixed && Header().Match(text[prefixed.Index..]) is { Success: true } after)
            {
                current = ToRecord(after, where, format, into);
                if (current is not null)
                    into.Vmas.Add(current);
                continue;
            }
            into.Skipped.Add(new(where, $"not a line of {RecordFormats.Describe(format)} (expected a VMA header or an smaps 'Field: value' line)"));
        }
    }

    private static VmaRecord? ToRecord(Match m, SourceRef where, RecordFormat format, ParsedRecords into)
    {
        if (!HexText.TryHex(m.Groups["s"].ValueSpan, out ulong start) || !HexText.TryHex(m.Groups["e"].ValueSpan, out ulong end) ||
            !HexText.TryHex(m.Groups["o"].ValueSpan, out ulong offset) || !HexText.TryDecimal(m.Groups["i"].ValueSpan, out ulong inode))
        {
            into.Skipped.Add(new(where, "a number in the VMA header does not fit 64 bits"));
            return null;
        }
        if (start == 0 && end == 0)
        {
            into.Skipped.Add(new(where, "zero addresses: the file was read without the right to see them (read it as root or as the VMM's user)"));
            return null;
        }
        if (end <= start)
        {
            into.Skipped.Add(new(where, $"an empty or reversed range {start:x}-{end:x}"));
            return null;
        }
        string path = m.Groups["path"].Success ? m.Groups["path"].Value.Trim() : "";
        if (path.Contains("x86_64", StringComparison.Ordinal) || path.Contains("x86-64", StringComparison.Ordinal))
            into.X86Evidence.Add((where, $"the VMM maps '{path}'"));
        return new VmaRecord
        {
            Start = start,
            End = end,
            Perms = m.Groups["p"].Value,
            OffsetBytes = offset,
            Device = m.Groups["d"].Value,
            Inode = inode,
            Path = path,
            Where = where,
            Format = format,
        };
    }

    /// <summary>An smaps field line, applied to the VMA above it; false when the line is no field at all.</summary>
    private static bool TryField(string text, SourceRef where, VmaRecord? current, ParsedRecords into)
    {
        int colon = text.IndexOf(':');
        if (colon <= 0 || !IsFieldName(text.AsSpan(0, colon)))
            return false;
        if (current is null)
        {
            into.Skipped.Add(new(where, "an smaps field with no VMA header above it (the header was cut from the paste)"));
            return true;
        }
        ReadOnlySpan<char> name = text.AsSpan(0, colon);
        ReadOnlySpan<char> value = text.AsSpan(colon + 1).Trim();
        if (name.SequenceEqual("VmFlags"))
        {
            current.VmFlags = value.ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            current.VmFlagsWhere = where;
        }
        else if (name.SequenceEqual("THPeligible"))
        {
            if (value.SequenceEqual("1") || value.SequenceEqual("0"))
                current.ThpEligible = value[0] == '1';
        }
        else if (name.SequenceEqual("KernelPageSize") && TryKb(value, out ulong kps))
        {
            current.KernelPageSizeBytes = kps;
            current.KernelPageSizeWhere = where;
        }
        else if (name.SequenceEqual("AnonHugePages") && TryKb(value, out ulong ahp))
        {
            current.AnonHugePagesBytes = ahp;
        }
        return true;
    }

    private static bool TryKb(ReadOnlySpan<char> value, out ulong bytes)
    {
        bytes = 0;
        if (!value.EndsWith(" kB", StringComparison.Ordinal))
            return false;
        if (!HexText.TryDecimal(value[..^3].Trim(), out ulong kb))
            return false;
        bytes = kb * KiB;
        return true;
    }

    private static bool IsFieldName(ReadOnlySpan<char> name)
    {
        foreach (char c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '_')
                return false;
        }
        return true;
    }

    private static bool IsHex(char c) => char.IsAsciiHexDigit(c);

    /// <summary>A header after something else on the line (a size column from awk, a line number).</summary>
    [GeneratedRegex(@"(?<=\s)[0-9a-fA-F]{4,16}-[0-9a-fA-F]{4,16}\s+[r-][w-][x-][sp]\s")]
    private static partial Regex HeaderInside();

    [GeneratedRegex(@"^(?<s>[0-9a-fA-F]{1,16})-(?<e>[0-9a-fA-F]{1,16})\s+(?<p>[r-][w-][x-][sp])\s+(?<o>[0-9a-fA-F]{1,16})\s+(?<d>[0-9a-fA-F]+:[0-9a-fA-F]+)\s+(?<i>\d+)(?:\s+(?<path>.*))?$")]
    private static partial Regex Header();

    /// <summary>The start of a header: the range and up to four more fields (a header cut or wrapped).</summary>
    [GeneratedRegex(@"^[0-9a-fA-F]{1,16}-[0-9a-fA-F]{0,16}(?:\s+\S+){0,4}$")]
    private static partial Regex Partial();

    /// <summary>A path alone on a line: a header's path wrapped onto the next line.</summary>
    [GeneratedRegex(@"^(?:/|\[|anon_inode:|socket:|pipe:)\S*(?: \(deleted\))?$")]
    private static partial Regex LonePath();
}
