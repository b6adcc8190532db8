using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Advice;

/// <summary>
/// A deep copy of a scenario, so that a suggested change can be applied to a copy and the copy run, leaving
/// the scenario as read untouched (other runs read it at the same time). What no change edits — the guest's
/// stage 1, the nested L1 stage 2, trace contents — is shared, not copied.
/// </summary>
public static class ScenarioCopy
{
    public static Scenario Of(Scenario s)
    {
        var copy = new Scenario
        {
            Name = s.Name,
            Description = s.Description,
            SourceFile = s.SourceFile,
            Host = Host(s.Host),
            Vm = Vm(s.Vm),
            Guest = s.Guest,
            Nested = s.Nested,
        };
        foreach (VmaSpec m in s.Mappings)
            copy.Mappings.Add(Mapping(m));
        foreach (MemslotSpec slot in s.Memslots)
            copy.Memslots.Add(Slot(slot));
        foreach (TimelineEvent ev in s.Timeline)
            copy.Timeline.Add(Event(ev));
        return copy;
    }

    public static VmaSpec Mapping(VmaSpec m)
    {
        var copy = new VmaSpec
        {
            Name = m.Name,
            Kind = m.Kind,
            Start = m.Start,
            SizeBytes = m.SizeBytes,
            Pa = m.Pa,
            Thp = m.Thp,
            HugePageSize = m.HugePageSize,
            PgOff = m.PgOff,
            Device = m.Device,
            DeviceOffset = m.DeviceOffset,
            VfioRegionIndex = m.VfioRegionIndex,
            HostPmd = m.HostPmd,
            UncachedOk = m.UncachedOk,
            Cacheable = m.Cacheable,
            MixedMap = m.MixedMap,
            FaultTimeRemap = m.FaultTimeRemap,
            ReadOnly = m.ReadOnly,
            Where = m.Where,
        };
        copy.Pieces.AddRange(m.Pieces);
        return copy;
    }

    public static MemslotSpec Slot(MemslotSpec s) => new()
    {
        Id = s.Id,
        Ipa = s.Ipa,
        SizeBytes = s.SizeBytes,
        Hva = s.Hva,
        Flags = s.Flags,
        Where = s.Where,
    };

    private static HostSpec Host(HostSpec h)
    {
        var copy = new HostSpec { PageSize = h.PageSize, VaBits = h.VaBits, Thp = h.Thp };
        copy.Ram.AddRange(h.Ram.Select(Range));
        copy.Devices.AddRange(h.Devices.Select(Range));
        return copy;
    }

    private static RangeSpec Range(RangeSpec r) => new() { Name = r.Name, Base = r.Base, SizeBytes = r.SizeBytes, Where = r.Where };

    private static VmSpec Vm(VmSpec v)
    {
        var copy = new VmSpec
        {
            IpaBits = v.IpaBits,
            Fwb = v.Fwb,
            Dic = v.Dic,
            RangeTlbi = v.RangeTlbi,
            EagerSplitChunkBytes = v.EagerSplitChunkBytes,
            ManualDirtyLogProtect = v.ManualDirtyLogProtect,
            CostProfile = v.CostProfile,
            MaxSlots = v.MaxSlots,
            Pkvm = v.Pkvm,
            PkvmWhere = v.PkvmWhere,
        };
        copy.Policies.AddRange(v.Policies);
        return copy;
    }

    /// <summary>A copy of one timeline event (the same kind, every field).</summary>
    public static TimelineEvent Event(TimelineEvent ev)
    {
        TimelineEvent copy = ev switch
        {
            SlotCreateEvent c => new SlotCreateEvent { Slot = Slot(c.Slot) },
            SlotDeleteEvent d => new SlotDeleteEvent { SlotId = d.SlotId },
            SlotMoveEvent m => new SlotMoveEvent { SlotId = m.SlotId, Ipa = m.Ipa },
            DirtyLogEvent l => new DirtyLogEvent { SlotId = l.SlotId, Enable = l.Enable },
            GetDirtyLogEvent g => new GetDirtyLogEvent { SlotId = g.SlotId },
            ClearDirtyLogEvent c => new ClearDirtyLogEvent { SlotId = c.SlotId, FirstPage = c.FirstPage, NumPages = c.NumPages },
            UnmapEvent u => new UnmapEvent { Zap = u.Zap, Hva = u.Hva, SizeBytes = u.SizeBytes },
            AgeEvent a => new AgeEvent { Hva = a.Hva, SizeBytes = a.SizeBytes },
            AccessEvent a => new AccessEvent { Ipa = a.Ipa, Access = a.Access, L2Guest = a.L2Guest },
            TeardownEvent => new TeardownEvent(),
            WorkloadEvent w => new WorkloadEvent
            {
                Pattern = w.Pattern,
                Ipa = w.Ipa,
                SizeBytes = w.SizeBytes,
                StrideBytes = w.StrideBytes,
                Count = w.Count,
                Seed = w.Seed,
                ReadPercent = w.ReadPercent,
                WritePercent = w.WritePercent,
                ExecPercent = w.ExecPercent,
                Skew = w.Skew,
                ZipfBuckets = w.ZipfBuckets,
                TraceFile = w.TraceFile,
                Trace = w.Trace,
                L2Guest = w.L2Guest,
            },
            _ => throw new ArgumentException($"cannot copy timeline event '{ev.Kind}'", nameof(ev)),
        };
        copy.Name = ev.Name;
        copy.Where = ev.Where;
        return copy;
    }
}
