using System.Globalization;
using System.Text.RegularExpressions;

namespace Stage2Lab.Simulation.Import;

/// <summary>
/// QEMU trace output (`-trace kvm_set_user_memory -trace 'vfio_*'`, any backend that prints the trace-events
/// format strings: log, stderr, ftrace), with or without a `PID@SEC.USEC:` prefix. Events read:
/// <list type="bullet">
/// <item>kvm_set_user_memory (accel/kvm/trace-events) in its three historical formats: `Slot#%d flags=0x%x gpa=0x%x
/// size=0x%x ua=0x%x ret=%d` (slot = address space &lt;&lt; 16 | id, kvm_set_user_memory_region), the same with
/// `AddrSpace#%d ` in front, and with `guest_memfd=%d guest_memfd_offset=0x%x` before `ret`.</item>
/// <item>vfio_region_setup `Device %s, region %d "%s", flags: 0x%lx, offset: 0x%lx, size: 0x%lx` (hw/vfio/trace-events).</item>
/// <item>vfio_region_mmap `Region %s [0x%lx - 0x%lx]`, the name `BDF BAR n mmaps[k]`, offsets inside the region, end inclusive.</item>
/// <item>vfio_listener_region_add_ram `region_add [ram] 0x%x - 0x%x [%p]` (GPA range, end inclusive, and its HVA) and
/// vfio_listener_region_del `region_del 0x%x - 0x%x`.</item>
/// </list>
/// A line whose event is recognised but whose fields are cut is joined with the next line (hard wraps).
/// </summary>
public static partial class QemuTraceParser
{
    private const int MaxJoinedLines = 3;

    /// <summary>kvm_set_user_memory_region: `mem.slot = slot->slot | (kml->as_id &lt;&lt; 16)` in the classic format.</summary>
    private const int AddressSpaceShift = 16;

    public static void Parse(IReadOnlyList<CleanLine> lines, string file, ParsedRecords into)
    {
        for (int i = 0; i < lines.Count; i++)
        {
            var where = new SourceRef(file, lines[i].Number);
            string text = lines[i].Text;
            Match ev = Event().Match(text);
            if (!ev.Success)
            {
                Match other = OtherEvent().Match(text);
                into.Skipped.Add(new(where, other.Success
                    ? $"trace event {other.Groups["name"].Value}: not one import reads"
                    : "not a trace line (expected kvm_set_user_memory, vfio_region_setup, vfio_region_mmap or vfio_listener_region_add_ram/del)"));
                continue;
            }
            string name = ev.Groups["name"].Value;
            string args = text[(ev.Index + ev.Length)..];
            int used = 0;
            bool ok = TryEvent(name, args, where, into);
            while (!ok && used + 1 < MaxJoinedLines && i + used + 1 < lines.Count && !Event().IsMatch(lines[i + used + 1].Text))
            {
                used++;
                args += " " + lines[i + used].Text;
                ok = TryEvent(name, args, where, into);
            }
            if (ok)
            {
                i += used;
                continue;
            }
            into.Skipped.Add(new(where, $"{name} with its fields cut mid-line (expected {Expected(name)})"));
        }
    }

    private static bool TryEvent(string name, string args, SourceRef where, ParsedRecords into)
    {
        switch (name)
        {
            case "kvm_set_user_memory":
                {
                    Match m = SlotArgs().Match(args);
                    if (!m.Success)
                        return false;
                    if (!HexText.TryHex(m.Groups["gpa"].ValueSpan, out ulong gpa) || !HexText.TryHex(m.Groups["size"].ValueSpan, out ulong size) ||
                        !HexText.TryHex(m.Groups["ua"].ValueSpan, out ulong ua) || !HexText.TryHex(m.Groups["flags"].ValueSpan, out ulong flags) ||
                        !int.TryParse(m.Groups["slot"].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out int slot) ||
                        !int.TryParse(m.Groups["ret"].ValueSpan, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int ret))
                    {
                        into.Skipped.Add(new(where, "kvm_set_user_memory with a number that does not fit"));
                        return true;
                    }
                    int addressSpace;
                    KvmSlotTraceFormat variant;
                    if (m.Groups["as"].Success)
                    {
                        addressSpace = int.Parse(m.Groups["as"].ValueSpan, CultureInfo.InvariantCulture);
                        variant = m.Groups["gm"].Success ? KvmSlotTraceFormat.GuestMemfd : KvmSlotTraceFormat.AddressSpace;
                    }
                    else
                    {
                        addressSpace = slot >> AddressSpaceShift;
                        slot &= (1 << AddressSpaceShift) - 1;
                        variant = m.Groups["gm"].Success ? KvmSlotTraceFormat.GuestMemfd : KvmSlotTraceFormat.Classic;
                    }
                    int? memfd = m.Groups["gm"].Success ? int.Parse(m.Groups["gm"].ValueSpan, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture) : null;
                    into.Slots.Add(new KvmSlotRecord(addressSpace, slot, (uint)flags, gpa, size, ua, memfd, ret, variant, where));
                    return true;
                }
            case "vfio_region_setup":
                {
                    Match m = RegionSetupArgs().Match(args);
                    if (!m.Success)
                        return false;
                    if (!HexText.TryHex(m.Groups["off"].ValueSpan, out ulong offset) || !HexText.TryHex(m.Groups["size"].ValueSpan, out ulong size) ||
                        !HexText.TryHex(m.Groups["fl"].ValueSpan, out ulong fl) || !int.TryParse(m.Groups["idx"].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out int index))
                    {
                        into.Skipped.Add(new(where, "vfio_region_setup with a number that does not fit"));
                        return true;
                    }
                    into.VfioRegions.Add(new VfioRegionRecord(Bdf.Normalize(m.Groups["dev"].Value), index, m.Groups["name"].Value, fl, offset, size, where));
                    return true;
                }
            case "vfio_region_mmap":
                {
                    Match m = RegionMmapArgs().Match(args);
                    if (!m.Success)
                        return false;
                    if (!HexText.TryHex(m.Groups["s"].ValueSpan, out ulong s) || !HexText.TryHex(m.Groups["e"].ValueSpan, out ulong e) || e < s)
                    {
                        into.Skipped.Add(new(where, "vfio_region_mmap with a reversed or oversized range"));
                        return true;
                    }
                    into.VfioMmaps.Add(new VfioMmapRecord(Bdf.Normalize(m.Groups["dev"].Value), int.Parse(m.Groups["bar"].ValueSpan, CultureInfo.InvariantCulture),
                        int.Parse(m.Groups["k"].ValueSpan, CultureInfo.InvariantCulture), s, e, where));
                    return true;
                }
            case "vfio_listener_region_add_ram":
            case "vfio_listener_region_del":
                {
                    bool add = name.EndsWith("add_ram", StringComparison.Ordinal);
                    Match m = add ? ListenerAddArgs().Match(args) : ListenerDelArgs().Match(args);
                    if (!m.Success)
                        return false;
                    if (!HexText.TryHex(m.Groups["s"].ValueSpan, out ulong s) || !HexText.TryHex(m.Groups["e"].ValueSpan, out ulong e) || e < s)
                    {
                        into.Skipped.Add(new(where, $"{name} with a reversed or oversized range"));
                        return true;
                    }
                    ulong? hva = null;
                    if (add)
                    {
                        if (!HexText.TryHex(m.Groups["va"].ValueSpan, out ulong va) || va == 0)
                        {
                            into.Skipped.Add(new(where, "vfio_listener_region_add_ram without a host address ([(nil)])"));
                            return true;
                        }
                        hva = va;
                    }
                    into.Listener.Add(new ListenerRecord(add, s, e, hva, where));
                    return true;
                }
        }
        return false;
    }

    private static string Expected(string name) => name switch
    {
        "kvm_set_user_memory" => "[AddrSpace#A ]Slot#N flags=0x.. gpa=0x.. size=0x.. ua=0x.. [guest_memfd=.. guest_memfd_offset=0x..] ret=N",
        "vfio_region_setup" => "Device BDF, region N \"NAME\", flags: 0x.., offset: 0x.., size: 0x..",
        "vfio_region_mmap" => "Region BDF BAR N mmaps[K] [0x.. - 0x..]",
        "vfio_listener_region_add_ram" => "region_add [ram] 0x.. - 0x.. [0xHVA]",
        _ => "region_del 0x.. - 0x..",
    };

    /// <summary>An event name followed by the start of its own fields (so prose that names an event is no event).</summary>
    [GeneratedRegex(@"\b(?<name>kvm_set_user_memory(?=:?\s+(?:AddrSpace|Slot)#)|vfio_region_setup(?=:?\s+Device\s)|vfio_region_mmap(?=:?\s+Region\s)|vfio_listener_region_add_ram(?=:?\s+region_add\b)|vfio_listener_region_del(?=:?\s+region_del\b))[:\s]*")]
    private static partial Regex Event();

    [GeneratedRegex(@"^(?:\d+@[\d.]+:)?(?<name>(?:kvm|vfio|iommufd|memory_region|pci|virtio|qemu)_[a-z0-9_]+)\b")]
    private static partial Regex OtherEvent();

    [GeneratedRegex(@"^(?:AddrSpace#(?<as>\d+)\s+)?Slot#(?<slot>\d+)\s+flags=0x(?<flags>[0-9a-fA-F]+)\s+gpa=0x(?<gpa>[0-9a-fA-F]+)\s+size=0x(?<size>[0-9a-fA-F]+)\s+ua=0x(?<ua>[0-9a-fA-F]+)(?:\s+guest_memfd=(?<gm>-?\d+)\s+guest_memfd_offset=0x(?<gmo>[0-9a-fA-F]+))?\s+ret=(?<ret>-?\d+)")]
    private static partial Regex SlotArgs();

    [GeneratedRegex(@"^Device\s+(?<dev>\S+?),\s+region\s+(?<idx>\d+)\s+""(?<name>[^""]*)"",\s+flags:\s+0x(?<fl>[0-9a-fA-F]+),\s+offset:\s+0x(?<off>[0-9a-fA-F]+),\s+size:\s+0x(?<size>[0-9a-fA-F]+)")]
    private static partial Regex RegionSetupArgs();

    [GeneratedRegex(@"^Region\s+(?<dev>\S+)\s+BAR\s+(?<bar>\d)\s+mmaps\[(?<k>\d+)\]\s+\[0x(?<s>[0-9a-fA-F]+)\s+-\s+0x(?<e>[0-9a-fA-F]+)\]")]
    private static partial Regex RegionMmapArgs();

    [GeneratedRegex(@"^region_add\s+\[ram\]\s+0x(?<s>[0-9a-fA-F]+)\s+-\s+0x(?<e>[0-9a-fA-F]+)\s+\[(?<va>0x[0-9a-fA-F]+|\(nil\)|0)\]")]
    private static partial Regex ListenerAddArgs();

    [GeneratedRegex(@"^region_del\s+0x(?<s>[0-9a-fA-F]+)\s+-\s+0x(?<e>[0-9a-fA-F]+)")]
    private static partial Regex ListenerDelArgs();
}
