using Stage2Lab.Arch;
using Stage2Lab.Kvm;

namespace Stage2Lab.Simulation.Scenarios;

/// <summary>One step of a scenario's timeline; each is a phase of the measurements.</summary>
public abstract class TimelineEvent
{
    /// <summary>The phase name shown in reports (given, or derived from the kind and index).</summary>
    public string Name { get; set; } = "";

    public SourceSpan Where { get; set; }

    public abstract string Kind { get; }
}

public sealed class SlotCreateEvent : TimelineEvent
{
    public override string Kind => "slot-create";

    public MemslotSpec Slot { get; set; } = new();
}

public sealed class SlotDeleteEvent : TimelineEvent
{
    public override string Kind => "slot-delete";

    public int SlotId { get; set; }
}

public sealed class SlotMoveEvent : TimelineEvent
{
    public override string Kind => "slot-move";

    public int SlotId { get; set; }

    public ulong Ipa { get; set; }
}

public sealed class DirtyLogEvent : TimelineEvent
{
    public override string Kind => "dirty-log";

    public int SlotId { get; set; }

    public bool Enable { get; set; }
}

public sealed class GetDirtyLogEvent : TimelineEvent
{
    public override string Kind => "get-dirty-log";

    public int SlotId { get; set; }
}

public sealed class ClearDirtyLogEvent : TimelineEvent
{
    public override string Kind => "clear-dirty-log";

    public int SlotId { get; set; }

    public ulong FirstPage { get; set; }

    /// <summary>0: the whole slot.</summary>
    public ulong NumPages { get; set; }
}

/// <summary>munmap of an HVA range, or a zap (device reset: the VMA stays).</summary>
public sealed class UnmapEvent : TimelineEvent
{
    public override string Kind => Zap ? "zap" : "munmap";

    public bool Zap { get; set; }

    public ulong Hva { get; set; }

    public ulong SizeBytes { get; set; }
}

public sealed class AgeEvent : TimelineEvent
{
    public override string Kind => "age";

    public ulong Hva { get; set; }

    public ulong SizeBytes { get; set; }
}

/// <summary>One guest access (what a fuzzer's reproducer is made of).</summary>
public sealed class AccessEvent : TimelineEvent
{
    public override string Kind => "access";

    public ulong Ipa { get; set; }

    public AccessKind Access { get; set; }

    /// <summary>`guest: l2`: the L2 guest makes the access (an L2 IPA, through the shadow stage 2).</summary>
    public bool L2Guest { get; set; }
}

public sealed class TeardownEvent : TimelineEvent
{
    public override string Kind => "teardown";
}

public enum WorkloadPattern
{
    Sequential,
    Random,
    Strided,
    Zipf,
    Trace,
}

/// <summary>Guest accesses: a generated pattern over an IPA range, or a trace file.</summary>
public sealed class WorkloadEvent : TimelineEvent
{
    public override string Kind => "workload";

    public WorkloadPattern Pattern { get; set; }

    public ulong Ipa { get; set; }

    public ulong SizeBytes { get; set; }

    /// <summary>Sequential/strided step; default the granule.</summary>
    public ulong StrideBytes { get; set; }

    /// <summary>Accesses; 0 with sequential/strided: one pass over the range.</summary>
    public ulong Count { get; set; }

    public ulong Seed { get; set; } = 1;

    /// <summary>Percentages of reads, writes, instruction fetches.</summary>
    public int ReadPercent { get; set; } = 100;

    public int WritePercent { get; set; }

    public int ExecPercent { get; set; }

    /// <summary>Zipf exponent (hot/cold skew), typical 0.8–1.2.</summary>
    public double Skew { get; set; } = 1.0;

    /// <summary>Zipf: the number of hot-to-cold ranks the range is divided into.</summary>
    public ulong ZipfBuckets { get; set; } = 4096;

    /// <summary>Trace: CSV path (relative to the scenario file) with lines `ipa,kind[,vcpu]`.</summary>
    public string? TraceFile { get; set; }

    /// <summary>Trace contents, loaded when the scenario is read.</summary>
    public List<(ulong Ipa, AccessKind Kind)>? Trace { get; set; }

    /// <summary>How many accesses the workload makes: its count, its trace, or one pass of a sweep.</summary>
    public ulong AccessCount(Granule granule)
    {
        ulong stride = StrideBytes != 0 ? StrideBytes : granule.PageSize;
        return Pattern switch
        {
            WorkloadPattern.Trace => (ulong)(Trace?.Count ?? 0),
            WorkloadPattern.Sequential or WorkloadPattern.Strided when Count == 0 => Math.Max(1, SizeBytes / stride),
            _ => Count,
        };
    }

    /// <summary>`guest: l2`: the L2 guest makes the accesses (L2 IPAs, through the shadow stage 2).</summary>
    public bool L2Guest { get; set; }
}
