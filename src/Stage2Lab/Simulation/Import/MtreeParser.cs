using System.Globalization;
using System.Text.RegularExpressions;

namespace Stage2Lab.Simulation.Import;

/// <summary>
/// QEMU HMP `info mtree -f` (system/memory.c mtree_print_flatview): `FlatView #N`, its ` AS "name", root: X` lines,
/// ` Root memory region: X`, then one row per FlatRange: `START-END (prio N, [nv-]TYPE): NAME[ @OFFSET][ KVM]`
/// with END inclusive, TYPE ram, ramd, rom, romd, i/o or container, @OFFSET the range's offset in its region, and
/// the accelerator's name where it has the range (`KVM`; older QEMU printed `kvm`). Only the view of the system
/// address space (root `system`) is read. A row wrapped before `@OFFSET` or `KVM` is joined back.
/// </summary>
public static partial class MtreeParser
{
    private const string SystemRoot = "system";

    public static void Parse(IReadOnlyList<CleanLine> lines, string file, ParsedRecords into)
    {
        string? viewRoot = null;
        bool sawView = false, treeView = false, dispatch = false;
        int viewNumber = -1;
        var x86 = false;
        for (int i = 0; i < lines.Count; i++)
        {
            var where = new SourceRef(file, lines[i].Number);
            string text = lines[i].Text;
            if (FlatViewHeader().Match(text) is { Success: true } fv)
            {
                sawView = true;
                treeView = dispatch = false;
                viewRoot = null;
                viewNumber = int.Parse(fv.Groups["n"].ValueSpan, CultureInfo.InvariantCulture);
                continue;
            }
            if (RootLine().Match(text) is { Success: true } root)
            {
                viewRoot = root.Groups["root"].Value;
                continue;
            }
            if (text.StartsWith("AS \"", StringComparison.Ordinal) || text == "No rendered FlatView")
                continue;
            if (text.StartsWith("address-space:", StringComparison.Ordinal) || text.StartsWith("memory-region:", StringComparison.Ordinal))
            {
                treeView = true;
                continue;
            }
            if (text == "Dispatch" || text.StartsWith("Physical sections", StringComparison.Ordinal) || text.StartsWith("Nodes (", StringComparison.Ordinal) || text.StartsWith("Root node:", StringComparison.Ordinal))
            {
                dispatch = true;
                continue;
            }
            if (dispatch && (text.StartsWith('#') || text.StartsWith("0x", StringComparison.Ordinal) || text.StartsWith("L", StringComparison.Ordinal) || text.StartsWith("[", StringComparison.Ordinal)))
                continue;
            Match m = Row().Match(text);
            if (!m.Success && RowStart().IsMatch(text) && i + 1 < lines.Count)
            {
                Match joined = Row().Match(text + " " + lines[i + 1].Text);
                if (joined.Success)
                {
                    m = joined;
                    i++;
                }
            }
            if (!m.Success)
            {
                into.Skipped.Add(new(where, RowStart().IsMatch(text)
                    ? "an mtree row cut mid-line: expected START-END (prio N, TYPE): NAME"
                    : "not a line of info mtree -f"));
                continue;
            }
            string rest = m.Groups["rest"].Value;
            // A row wrapped before its @offset, mmaps[k] or accelerator name: the next line completes it.
            while (i + 1 < lines.Count && Continuation().IsMatch(lines[i + 1].Text))
                rest += " " + lines[++i].Text;
            if (treeView)
            {
                into.Skipped.Add(new(where, "a row of the memory tree ('info mtree' without -f); import reads the flat view: give 'info mtree -f'"));
                continue;
            }
            if (rest.StartsWith("alias ", StringComparison.Ordinal))
            {
                into.Skipped.Add(new(where, "an alias row of the memory tree, not of a flat view: give 'info mtree -f'"));
                continue;
            }
            if (sawView && viewRoot is not null && viewRoot != SystemRoot)
            {
                into.Skipped.Add(new(where, $"a row of FlatView #{viewNumber} (root: {viewRoot}), not the system memory view KVM maps"));
                continue;
            }
            if (ToRow(m, rest, where) is not { } row)
            {
                into.Skipped.Add(new(where, "an mtree row with an address that does not fit 64 bits"));
                continue;
            }
            if (!x86 && X86Names().IsMatch(row.Name))
            {
                x86 = true;
                into.X86Evidence.Add((where, $"QEMU's x86 machine region '{row.Name}'"));
            }
            into.Mtree.Add(row);
        }
    }

    private static MtreeRow? ToRow(Match m, string rest, SourceRef where)
    {
        if (!HexText.TryHex(m.Groups["s"].ValueSpan, out ulong start) || !HexText.TryHex(m.Groups["e"].ValueSpan, out ulong end) || end < start)
            return null;
        bool kvm = false;
        rest = rest.Trim();
        while (Accelerator().Match(rest) is { Success: true } acc)
        {
            kvm = true;
            rest = rest[..acc.Index].TrimEnd();
        }
        rest = Owner().Replace(rest, "").Replace(" [disabled]", "", StringComparison.Ordinal).TrimEnd();
        ulong offset = 0;
        if (OffsetSuffix().Match(rest) is { Success: true } off && HexText.TryHex(off.Groups["off"].ValueSpan, out offset))
            rest = rest[..off.Index].TrimEnd();
        (string, int, int)? bar = null;
        if (VfioBarName().Match(rest) is { Success: true } vb)
            bar = (Bdf.Normalize(vb.Groups["dev"].Value), int.Parse(vb.Groups["bar"].ValueSpan, CultureInfo.InvariantCulture), int.Parse(vb.Groups["k"].ValueSpan, CultureInfo.InvariantCulture));
        return new MtreeRow(start, end, int.Parse(m.Groups["p"].ValueSpan, CultureInfo.InvariantCulture), m.Groups["t"].Value, rest, offset, kvm, where) { VfioBar = bar };
    }

    [GeneratedRegex(@"^FlatView #(?<n>\d+)$")]
    private static partial Regex FlatViewHeader();

    [GeneratedRegex(@"^Root memory region: (?<root>.+)$")]
    private static partial Regex RootLine();

    [GeneratedRegex(@"^(?:\[DETECTED OVERFLOW!\] )?(?<s>[0-9a-fA-F]{1,16})-(?<e>[0-9a-fA-F]{1,16})\s+\(prio\s+(?<p>-?\d+),\s*(?:nv-)?(?<t>ramd|ram|romd|rom|i/o|container)\):\s*(?<rest>.*)$")]
    private static partial Regex Row();

    [GeneratedRegex(@"^[0-9a-fA-F]{1,16}-[0-9a-fA-F]{0,16}(?:\s+\(prio.*)?$")]
    private static partial Regex RowStart();

    [GeneratedRegex(@"^(?:@[0-9a-fA-F]{1,16}|mmaps\[\d+\]|KVM|kvm)(?:\s|$)")]
    private static partial Regex Continuation();

    [GeneratedRegex(@"(?:^|\s)(?:KVM|kvm)$")]
    private static partial Regex Accelerator();

    [GeneratedRegex(@"\s+(?:(?:owner|parent):\{[^}]*\}|orphan)")]
    private static partial Regex Owner();

    [GeneratedRegex(@"\s@(?<off>[0-9a-fA-F]{1,16})$")]
    private static partial Regex OffsetSuffix();

    [GeneratedRegex(@"^(?<dev>(?:[0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])\s+BAR\s+(?<bar>\d)\s+mmaps\[(?<k>\d+)\]$")]
    private static partial Regex VfioBarName();

    [GeneratedRegex(@"^(?:pc\.ram|pc\.bios|pc\.rom|kvm-ioapic|kvm-apic-msi|ram-below-4g|ram-above-4g|smbase-blackhole|tseg-blackhole|vga-lowmem|isa-bios)$")]
    private static partial Regex X86Names();
}
