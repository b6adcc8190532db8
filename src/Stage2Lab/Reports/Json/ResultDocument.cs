using Stage2Lab.Kvm;
using Stage2Lab.PageTables;

namespace Stage2Lab.Reports;

// The JSON output types. System.Text.Json writes them in declaration order (camelCase keys), and
// JsonSchemaExporter publishes docs/schema/*.json from the same types, so the schema cannot drift from the
// output. To add a section (a new part of a run), add a nullable property to the type it belongs to (absent
// when null) and fill it where JsonReport builds that type; the schema and its test follow by themselves.

/// <summary>`run`, `compare`, `explain --ipa` and `check` as JSON: schema stage2lab.result/3.</summary>
public sealed class ResultDocument
{
    public required string Schema { get; init; }

    /// <summary>The s2lab version that wrote the document (from git: see README, "Install as a tool").</summary>
    public required string ToolVersion { get; init; }

    /// <summary>run, compare, explain or check.</summary>
    public required string Command { get; init; }

    public required string Scenario { get; init; }

    /// <summary>The scenario file's name, without its folder.</summary>
    public required string File { get; init; }

    public string? Description { get; init; }

    /// <summary>One entry per policy, in the order run.</summary>
    public required IReadOnlyList<PolicyRunJson> Policies { get; init; }
}

/// <summary>`explain FILE.s2faults --line N` as JSON: schema stage2lab.script-decision/1.</summary>
public sealed class ScriptDecisionDocument
{
    public required string Schema { get; init; }

    public required string ToolVersion { get; init; }

    public required string Command { get; init; }

    /// <summary>The script as named on the command line (or &lt;stdin&gt;).</summary>
    public required string File { get; init; }

    public required int Line { get; init; }

    public required string Policy { get; init; }

    public required DecisionJsonValue Decision { get; init; }
}

/// <summary>One policy's run.</summary>
public sealed class PolicyRunJson
{
    public required string Policy { get; init; }

    /// <summary>kernel, proposal or buggyVariant (PolicyRegistry).</summary>
    public required string Kind { get; init; }

    public required string Description { get; init; }

    public required string CostProfile { get; init; }

    public required string Granule { get; init; }

    /// <summary>"slot creation", one per timeline event, "teardown".</summary>
    public required IReadOnlyList<PhaseJson> Phases { get; init; }

    public required FinalJson Final { get; init; }

    public required TotalsJson Totals { get; init; }

    /// <summary>One representative per distinct (memslot, outcome, size, binding constraint), costliest first.</summary>
    public required IReadOnlyList<DecisionGroupJson> Decisions { get; init; }

    /// <summary>explain: the decision asked for.</summary>
    public ExplainedJson? Explained { get; init; }

    /// <summary>With the invariant checker on (check, --check): what it looked at and what broke first.</summary>
    public CheckJson? Check { get; init; }

    /// <summary>Invariant violations found (with the checker on; else empty).</summary>
    public required IReadOnlyList<ViolationJson> Violations { get; init; }

    /// <summary>The guest TLB model (docs/tlb-model.md): profile, assumptions, the run's counts; absent with --tlb off.</summary>
    public TlbRunJson? Tlb { get; init; }
}

/// <summary>One phase: slot creation, a timeline event, or teardown.</summary>
public sealed class PhaseJson
{
    public required string Name { get; init; }

    public required string Kind { get; init; }

    /// <summary>0 for slot creation, then the 1-based timeline event; teardown last.</summary>
    public required int Event { get; init; }

    public required long Accesses { get; init; }

    public required FaultCountsJson Faults { get; init; }

    public required Stage2Counters Events { get; init; }

    /// <summary>Live table pages per level at the end of the phase.</summary>
    public required LevelsJson TablePages { get; init; }

    public required long TableBytes { get; init; }

    /// <summary>Cost model, integer nanoseconds.</summary>
    public required long EstimatedNs { get; init; }

    public required long DirtyPagesHarvested { get; init; }

    /// <summary>ioctls the kernel (or the host) refused.</summary>
    public required IReadOnlyList<RefusalJson> Refusals { get; init; }

    /// <summary>The guest TLB model's counts for the phase; absent with --tlb off.</summary>
    public TlbCountsJson? Tlb { get; init; }
}

/// <summary>Faults by outcome.</summary>
public sealed class FaultCountsJson
{
    public required long Total { get; init; }

    public required long Hits { get; init; }

    public required long Mapped { get; init; }

    public required long Relaxed { get; init; }

    public required long Mmio { get; init; }

    public required long Retry { get; init; }

    public required long Errors { get; init; }

    public required long Injected { get; init; }

    /// <summary>An L2 guest's faults its L1 hypervisor's stage 2 did not map or allow (kvm_inject_s2_fault).</summary>
    public required long ForwardedToL1 { get; init; }

    public required long DirtyPagesMarked { get; init; }

    public static FaultCountsJson Of(in VmCounters f) => new()
    {
        Total = f.Faults,
        Hits = f.Hits,
        Mapped = f.Mapped,
        Relaxed = f.Relaxed,
        Mmio = f.MmioExits,
        Retry = f.Retries,
        Errors = f.Errors,
        Injected = f.Injected,
        ForwardedToL1 = f.ForwardedToL1,
        DirtyPagesMarked = f.DirtyPagesMarked,
    };
}

/// <summary>A number per stage-2 level.</summary>
public sealed class LevelsJson
{
    public required long L0 { get; init; }

    public required long L1 { get; init; }

    public required long L2 { get; init; }

    public required long L3 { get; init; }

    public static LevelsJson Of(IReadOnlyList<long> values) => new() { L0 = values[0], L1 = values[1], L2 = values[2], L3 = values[3] };

    public static LevelsJson Of(IReadOnlyList<ulong> values) => new() { L0 = (long)values[0], L1 = (long)values[1], L2 = (long)values[2], L3 = (long)values[3] };
}

/// <summary>The stage 2 at the end of the timeline, before teardown.</summary>
public sealed class FinalJson
{
    public required LevelsJson Leaves { get; init; }

    public required LevelsJson MappedBytes { get; init; }

    public required LevelsJson TablePages { get; init; }

    public required long TableBytes { get; init; }

    public required long DirtyPages { get; init; }

    /// <summary>Only with a nested: section: the L2 guest's shadow stage 2.</summary>
    public LevelsJson? ShadowLeaves { get; init; }
}

public sealed class TotalsJson
{
    public required FaultCountsJson Faults { get; init; }

    public required Stage2Counters Events { get; init; }

    public required long EstimatedNs { get; init; }
}

/// <summary>A refused ioctl: the errno, the kind of refusal, the slot, and the sentence.</summary>
public sealed class RefusalJson
{
    public required string Errno { get; init; }

    /// <summary>The KVM refusal's kind (slotOverlap, loggingOnPfnMap, ...), or "host" for the host's own.</summary>
    public required string Reason { get; init; }

    public int? Slot { get; init; }

    public required string Text { get; init; }
}

/// <summary>One broken invariant, as data.</summary>
public sealed class ViolationJson
{
    /// <summary>The invariant (stage2-model.md §6), camelCase: leafInOneVma, paMatchesHost, ...</summary>
    public required string Invariant { get; init; }

    /// <summary>The timeline event after which it was found (0: slot creation), or null when unknown.</summary>
    public int? Event { get; init; }

    public required string Ipa { get; init; }

    public required long SizeBytes { get; init; }

    /// <summary>The offending leaf, when a leaf is at fault.</summary>
    public LeafJson? Leaf { get; init; }

    /// <summary>The table page (pool id), for table invariants.</summary>
    public int? TablePage { get; init; }

    public required string Text { get; init; }
}

public sealed class LeafJson
{
    public required string Ipa { get; init; }

    public required int Level { get; init; }

    public required long SizeBytes { get; init; }

    public required string Descriptor { get; init; }
}

/// <summary>What the invariant checker looked at, and where the first violation came from.</summary>
public sealed class CheckJson
{
    /// <summary>Accesses and events checked.</summary>
    public required long EventsChecked { get; init; }

    public int? FirstViolatingEvent { get; init; }

    /// <summary>The decision of the fault that caused the first violation, when a fault did.</summary>
    public DecisionJsonValue? FirstViolatingFault { get; init; }
}

/// <summary>A group of like decisions and its representative.</summary>
public sealed class DecisionGroupJson
{
    public required string Phase { get; init; }

    public required int Event { get; init; }

    /// <summary>The first access of the group (-1: a memslot ioctl, not an access).</summary>
    public required long FirstAccessIndex { get; init; }

    public required long Count { get; init; }

    public required long EstimatedNsEach { get; init; }

    public required long EstimatedNsTotal { get; init; }

    public required DecisionJsonValue Representative { get; init; }
}

/// <summary>The decision explain picked, what it is, and why it was picked.</summary>
public sealed class ExplainedJson
{
    /// <summary>faultOnPage, leafCoveringPage or readAfterLastEvent.</summary>
    public required string Pick { get; init; }

    /// <summary>The sentence saying what was picked and why.</summary>
    public required string Note { get; init; }

    public required string Phase { get; init; }

    public required int Event { get; init; }

    /// <summary>-1 for the read issued after the last event.</summary>
    public required long AccessIndex { get; init; }

    /// <summary>--event, when given.</summary>
    public int? AskedEvent { get; init; }

    /// <summary>True when no fault in the asked event touched the IPA and this one comes from another.</summary>
    public required bool OutsideAskedEvent { get; init; }

    public required DecisionJsonValue Decision { get; init; }
}
