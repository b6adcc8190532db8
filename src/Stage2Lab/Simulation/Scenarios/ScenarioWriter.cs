using System.Globalization;
using System.Text;
using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.Kvm;

namespace Stage2Lab.Simulation.Scenarios;

/// <summary>Writes a scenario back as YAML that <see cref="ScenarioReader"/> reads (a fuzzer's reproducer, an import).</summary>
public static class ScenarioWriter
{
    /// <param name="itemComments">Optional comment lines written above each RAM range, device, mapping, memslot and
    /// event (where an imported item came from); without it the output is unchanged.</param>
    public static string Write(Scenario s, IEnumerable<string>? headerComments = null, Func<object, IEnumerable<string>>? itemComments = null)
    {
        var y = new StringBuilder();
        foreach (string comment in headerComments ?? [])
            y.Append("# ").Append(comment).Append('\n');
        y.Append("name: ").Append(Quote(s.Name)).Append('\n');
        if (s.Description is not null)
            y.Append("description: ").Append(Quote(s.Description)).Append('\n');
        y.Append("host:\n");
        y.Append("  page-size: ").Append(s.Host.PageSize.Name).Append('\n');
        y.Append("  va-bits: ").Append(s.Host.VaBits).Append('\n');
        y.Append("  thp: ").Append(s.Host.Thp.ToString().ToLowerInvariant()).Append('\n');
        y.Append("  ram:\n");
        foreach (RangeSpec r in s.Host.Ram)
            y.Append(Comments(itemComments, r, "    ")).Append($"    - {{ name: {Quote(r.Name)}, base: {H(r.Base)}, size: {H(r.SizeBytes)} }}\n");
        if (s.Host.Devices.Count > 0)
        {
            y.Append("  devices:\n");
            foreach (RangeSpec d in s.Host.Devices)
                y.Append(Comments(itemComments, d, "    ")).Append($"    - {{ name: {Quote(d.Name)}, base: {H(d.Base)}, size: {H(d.SizeBytes)} }}\n");
        }
        if (s.Mappings.Count > 0)
        {
            y.Append("mappings:\n");
            foreach (VmaSpec m in s.Mappings)
                y.Append(Comments(itemComments, m, "  ")).Append("  - ").Append(Mapping(m)).Append('\n');
        }
        y.Append("vm:\n");
        y.Append("  ipa-bits: ").Append(s.Vm.IpaBits).Append('\n');
        y.Append("  fwb: ").Append(B(s.Vm.Fwb)).Append('\n');
        y.Append("  dic: ").Append(B(s.Vm.Dic)).Append('\n');
        y.Append("  range-tlbi: ").Append(B(s.Vm.RangeTlbi)).Append('\n');
        y.Append("  policies: [").Append(string.Join(", ", s.Vm.Policies)).Append("]\n");
        if (s.Vm.Pkvm != VmFlavor.Kvm)
            y.Append("  pkvm: ").Append(s.Vm.Pkvm == VmFlavor.ProtectedPkvm ? "protected" : "true").Append('\n');
        if (s.Nested is { } nested)
        {
            y.Append("nested:\n  l1-stage2:\n");
            foreach (L1Stage2Mapping l in nested.L1Stage2)
                y.Append($"    - {{ l2-ipa: {H(l.L2Ipa)}, l1-ipa: {H(l.L1Ipa)}, size: {H(l.SizeBytes)}, perms: {l.Perms.ToLetters()} }}\n");
        }
        if (s.Memslots.Count > 0)
        {
            y.Append("memslots:\n");
            foreach (MemslotSpec slot in s.Memslots)
                y.Append(Comments(itemComments, slot, "  ")).Append("  - ").Append(Slot(slot)).Append('\n');
        }
        if (s.Timeline.Count > 0)
        {
            y.Append("timeline:\n");
            foreach (TimelineEvent ev in s.Timeline)
                y.Append(Comments(itemComments, ev, "  ")).Append("  - ").Append(Event(ev)).Append('\n');
        }
        if (s.Guest is { } guest)
            GuestSectionWriter.Write(y, guest);
        return y.ToString();
    }

    private static string Comments(Func<object, IEnumerable<string>>? itemComments, object item, string indent)
    {
        if (itemComments is null)
            return "";
        var text = new StringBuilder();
        foreach (string line in itemComments(item))
            text.Append(indent).Append("# ").Append(line.ReplaceLineEndings(" ")).Append('\n');
        return text.ToString();
    }

    private static string Mapping(VmaSpec m)
    {
        var f = new List<string> { $"name: {Quote(m.Name)}", $"kind: {Kind(m.Kind)}", $"start: {H(m.Start)}", $"size: {H(m.SizeBytes)}" };
        if (m.Pa is { } pa)
            f.Add($"pa: {H(pa)}");
        if (m.Thp is { } thp)
            f.Add($"thp: {B(thp)}");
        if (m.Kind == VmaKind.Hugetlb)
            f.Add($"huge-page-size: {SizeText.Format(m.HugePageSize)}");
        if (m.PgOff is { } pgoff)
            f.Add($"pgoff: {H(pgoff)}");
        if (m.Device is { } device)
            f.Add($"device: {Quote(device)}");
        if (m.DeviceOffset != 0)
            f.Add($"device-offset: {H(m.DeviceOffset)}");
        if (m.VfioRegionIndex is { } region)
            f.Add($"vfio-region: {region}");
        if (m.HostPmd) f.Add("host-pmd: true");
        if (m.UncachedOk) f.Add("uncached-ok: true");
        if (m.Cacheable) f.Add("cacheable: true");
        if (m.MixedMap) f.Add("mixedmap: true");
        if (m.FaultTimeRemap) f.Add("fault-time-remap: true");
        if (m.ReadOnly) f.Add("read-only: true");
        if (m.Pieces.Count > 0)
            f.Add("pieces: [" + string.Join(", ", m.Pieces.Select(p => $"{{ offset: {H(p.Hva - m.Start)}, size: {H(p.SizeBytes)}, pa: {H(p.Pa)} }}")) + "]");
        return "{ " + string.Join(", ", f) + " }";
    }

    private static string Slot(MemslotSpec s)
    {
        var f = new List<string> { $"id: {s.Id}", $"ipa: {H(s.Ipa)}", $"size: {H(s.SizeBytes)}", $"hva: {H(s.Hva)}" };
        if ((s.Flags & MemslotFlags.ReadOnly) != 0)
            f.Add("readonly: true");
        if ((s.Flags & MemslotFlags.LogDirtyPages) != 0)
            f.Add("log: true");
        if ((s.Flags & MemslotFlags.GuestMemfd) != 0)
            f.Add("guest-memfd: true");
        return "{ " + string.Join(", ", f) + " }";
    }

    private static string Event(TimelineEvent ev) => ev switch
    {
        AccessEvent a => $"access: {{ ipa: {H(a.Ipa)}, kind: {a.Access.ToString().ToLowerInvariant()}{(a.L2Guest ? ", guest: l2" : "")} }}",
        SlotCreateEvent c => "slot-create: " + Slot(c.Slot),
        SlotDeleteEvent d => $"slot-delete: {{ slot: {d.SlotId} }}",
        SlotMoveEvent m => $"slot-move: {{ slot: {m.SlotId}, ipa: {H(m.Ipa)} }}",
        DirtyLogEvent l => $"dirty-log: {{ slot: {l.SlotId}, enable: {B(l.Enable)} }}",
        GetDirtyLogEvent g => $"get-dirty-log: {{ slot: {g.SlotId} }}",
        ClearDirtyLogEvent c => $"clear-dirty-log: {{ slot: {c.SlotId}, first-page: {c.FirstPage}, pages: {c.NumPages} }}",
        UnmapEvent u => $"{(u.Zap ? "zap" : "munmap")}: {{ hva: {H(u.Hva)}, size: {H(u.SizeBytes)} }}",
        AgeEvent a => $"age: {{ hva: {H(a.Hva)}, size: {H(a.SizeBytes)} }}",
        TeardownEvent => "teardown: {}",
        WorkloadEvent w => Workload(w),
        _ => throw new ArgumentException($"cannot write event {ev.Kind}", nameof(ev)),
    };

    private static string Workload(WorkloadEvent w)
    {
        string pattern = w.Pattern.ToString().ToLowerInvariant();
        return $"workload: {{ pattern: {pattern}, ipa: {H(w.Ipa)}, size: {H(w.SizeBytes)}, stride: {H(w.StrideBytes)}, count: {w.Count}, seed: {w.Seed}, " +
            $"mix: {{ read: {w.ReadPercent}, write: {w.WritePercent}, exec: {w.ExecPercent} }}, skew: {w.Skew.ToString(CultureInfo.InvariantCulture)}{(w.L2Guest ? ", guest: l2" : "")} }}";
    }

    private static string Kind(VmaKind kind) => kind switch { VmaKind.Anonymous => "anon", VmaKind.Hugetlb => "hugetlb", _ => "pfnmap" };

    private static string H(ulong value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);

    private static string B(bool value) => value ? "true" : "false";

    private static string Quote(string text) => text.Length > 0 && text.All(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.') ? text : "\"" + text.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
