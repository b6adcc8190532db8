using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using Stage2Lab.PageTables;
using Stage2Lab.Simulation.Invariants;
using Stage2Lab.Simulation.Metrics;
using Stage2Lab.Simulation.Playback;
using Stage2Lab.Simulation.Tlb;

namespace Stage2Lab.Simulation.Runs;

/// <summary>What one phase (slot creation, a timeline event, teardown) did under one policy.</summary>
public sealed class PhaseResult
{
    public required string Name { get; init; }

    public required string Kind { get; init; }

    /// <summary>0 for memslot creation, then the 1-based timeline event; the implicit teardown comes last.</summary>
    public int EventNumber { get; init; }

    public VmCounters Faults { get; set; }

    public Stage2Counters Events { get; set; }

    /// <summary>Live table pages per level (L0..L3) at the end of the phase.</summary>
    public long[] TablePages { get; } = new long[4];

    public long TableBytes { get; set; }

    public double EstimatedNs { get; set; }

    /// <summary>ioctls the kernel (or host) refused during the phase.</summary>
    public List<EventRefusal> Refusals { get; } = new();

    /// <summary>get-dirty-log: the pages reported.</summary>
    public long DirtyPagesHarvested { get; set; }

    public ulong Accesses { get; set; }

    /// <summary>What the guest's TLBs and walker did in the phase (null: the TLB model was off).</summary>
    public TlbCounters? Tlb { get; set; }

    /// <summary>Estimated guest translation time of the phase under <see cref="PolicyRun.TlbProfile"/> (0 when off).</summary>
    public double EstimatedGuestNs { get; set; }
}

/// <summary>A run of consecutive leaves of one size, for the IPA map.</summary>
public readonly record struct LeafRun(ulong Ipa, ulong EndIpa, int Level, ulong LeafSizeBytes, bool Device, long Leaves);

/// <summary>A memslot as the run ended, with the VMA backing its first page.</summary>
public readonly record struct SlotSnapshot(int Id, ulong Ipa, ulong SizeBytes, ulong Hva, string Backing);

/// <summary>The stage 2 as it stands at the end of the timeline (before teardown).</summary>
public sealed class FinalState
{
    /// <summary>Live leaves per level (L0..L3).</summary>
    public long[] Leaves { get; } = new long[4];

    /// <summary>Bytes mapped by leaves of each level.</summary>
    public ulong[] MappedBytes { get; } = new ulong[4];

    public long[] TablePages { get; } = new long[4];

    public long TableBytes { get; set; }

    public long DirtyPages { get; set; }

    public List<LeafRun> Runs { get; } = new();

    public List<SlotSnapshot> Memslots { get; } = new();

    /// <summary>The VMM's VMAs as the run ended (for the IPA map's edges).</summary>
    public List<(ulong Start, ulong End, string Name)> Vmas { get; } = new();

    /// <summary>With an L2 guest (a `nested:` section): live leaves per level of its shadow stage 2; else null.</summary>
    public long[]? ShadowLeaves { get; set; }
}

/// <summary>
/// The faults (or memslot ioctls) of one run that share a slot, an outcome, a size and a binding constraint,
/// with the first one's decision as their representative.
/// </summary>
public sealed record DecisionGroup(
    string Phase,
    int EventNumber,
    long FirstAccessIndex,
    long Count,
    double EstimatedNsEach,
    double EstimatedNsTotal,
    DecisionRecord Representative);

/// <summary>Why the explained decision is the one shown.</summary>
public enum ExplainPick : byte
{
    /// <summary>The first fault on the asked IPA's page (in the asked event, if one was).</summary>
    FaultOnPage,
    /// <summary>The first fault that mapped a leaf covering the asked IPA.</summary>
    LeafCoveringPage,
    /// <summary>No fault touched or mapped the IPA: a read issued after the last event.</summary>
    ReadAfterLastEvent,
}

/// <summary>The decision `explain` picked, with where and why.</summary>
public sealed record ExplainedDecision(DecisionRecord Record, ExplainPick Pick, string Phase, int EventNumber, long AccessIndex)
{
    /// <summary>The timeline event explain was asked about (--event), if any.</summary>
    public int? AskedEvent { get; init; }

    /// <summary>The name of that event's phase (a workload's name), when it was played.</summary>
    public string? AskedPhase { get; init; }

    /// <summary>No fault in <see cref="AskedEvent"/> touched the IPA; this one, from another event, did.</summary>
    public bool OutsideAskedEvent { get; init; }
}

/// <summary>One policy's run of a scenario.</summary>
public sealed class PolicyRun
{
    public required string Policy { get; init; }

    public required string Description { get; init; }

    public required CostProfile Profile { get; init; }

    public required Granule Granule { get; init; }

    public List<PhaseResult> Phases { get; } = new();

    public FinalState Final { get; } = new();

    /// <summary>One representative decision per distinct (slot, outcome, size, binding constraint), costliest first.</summary>
    public List<DecisionGroup> Decisions { get; } = new();

    /// <summary>The decision asked for with explain.</summary>
    public ExplainedDecision? Explained { get; set; }

    /// <summary>Invariant violations found while running (filled by a checking run).</summary>
    public List<InvariantViolation> Violations { get; } = new();

    /// <summary>Accesses and events the invariant checker looked at (0 when not checking).</summary>
    public long EventsChecked { get; set; }

    /// <summary>The decision of the fault that caused the first violation, when a fault did.</summary>
    public DecisionRecord? FirstViolatingFault { get; set; }

    /// <summary>The timeline event (0 = memslot creation) of the first violation.</summary>
    public int? FirstViolatingEvent { get; set; }

    public VmCounters TotalFaults
    {
        get
        {
            VmCounters sum = default;
            foreach (PhaseResult p in Phases)
                sum += p.Faults;
            return sum;
        }
    }

    public Stage2Counters TotalEvents
    {
        get
        {
            Stage2Counters sum = default;
            foreach (PhaseResult p in Phases)
                sum += p.Events;
            return sum;
        }
    }

    public double TotalEstimatedNs => Phases.Sum(p => p.EstimatedNs);

    /// <summary>The TLB profile the guest model ran with; null: the model was off (--tlb off).</summary>
    public TlbProfile? TlbProfile { get; set; }

    /// <summary>The guest TLB counters of the whole run; null when the model was off.</summary>
    public TlbCounters? TotalTlb
    {
        get
        {
            if (TlbProfile is null)
                return null;
            TlbCounters sum = default;
            foreach (PhaseResult p in Phases)
                sum += p.Tlb ?? default;
            return sum;
        }
    }

    /// <summary>Estimated guest translation time of the whole run (0 when the model was off).</summary>
    public double TotalEstimatedGuestNs => Phases.Sum(p => p.EstimatedGuestNs);
}

/// <summary>A scenario under every policy asked for.</summary>
public sealed class ScenarioResult
{
    public required string Scenario { get; init; }

    public required string File { get; init; }

    public string? Description { get; init; }

    public List<PolicyRun> Runs { get; } = new();
}
