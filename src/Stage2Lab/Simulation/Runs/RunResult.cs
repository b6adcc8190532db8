using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using Stage2Lab.PageTables;
using Stage2Lab.Simulation.Metrics;

namespace Stage2Lab.Simulation.Runs;

/// <summary>What one phase (slot creation, a timeline event, teardown) did under one policy.</summary>
public sealed class PhaseResult
{
    public required string Name { get; init; }

    public required string Kind { get; init; }

    public VmCounters Faults { get; set; }

    public Stage2Counters Events { get; set; }

    /// <summary>Live table pages per level (L0..L3) at the end of the phase.</summary>
    public long[] TablePages { get; } = new long[4];

    public long TableBytes { get; set; }

    public double EstimatedNs { get; set; }

    /// <summary>ioctls the kernel refused during the phase ("slot 2: EINVAL: ...").</summary>
    public List<string> Refusals { get; } = new();

    /// <summary>get-dirty-log: the pages reported.</summary>
    public long DirtyPagesHarvested { get; set; }

    public ulong Accesses { get; set; }
}

/// <summary>A run of consecutive leaves of one size, for the IPA map.</summary>
public readonly record struct LeafRun(ulong Ipa, ulong EndIpa, int Level, ulong LeafSizeBytes, bool Device, long Leaves);

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

    public List<(int Id, ulong Ipa, ulong SizeBytes, string Backing)> Memslots { get; } = new();
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

    /// <summary>The costliest faults, explained (largest estimated host time first).</summary>
    public List<CostlyDecision> CostliestDecisions { get; } = new();

    /// <summary>The decision asked for with explain (null when the IPA was never faulted on).</summary>
    public DecisionRecord? Explained { get; set; }

    public string? ExplainedNote { get; set; }

    public VmCounters TotalFaults
    {
        get
        {
            VmCounters sum = default;
            foreach (PhaseResult p in Phases)
            {
                VmCounters f = p.Faults;
                sum.Accesses += f.Accesses;
                sum.Hits += f.Hits;
                sum.Mapped += f.Mapped;
                sum.Relaxed += f.Relaxed;
                sum.MmioExits += f.MmioExits;
                sum.Retries += f.Retries;
                sum.Errors += f.Errors;
                sum.Injected += f.Injected;
                sum.DirtyPagesMarked += f.DirtyPagesMarked;
                sum.NonRamPageTouches += f.NonRamPageTouches;
            }
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

    /// <summary>Invariant violations found while running (filled by a checking run).</summary>
    public List<string> Violations { get; } = new();
}

/// <summary>A fault whose page-table work cost the most, with its explanation.</summary>
public sealed record CostlyDecision(string Phase, long AccessIndex, double EstimatedNs, DecisionRecord Record);

/// <summary>A scenario under every policy asked for.</summary>
public sealed class ScenarioResult
{
    public required string Scenario { get; init; }

    public required string File { get; init; }

    public string? Description { get; init; }

    public List<PolicyRun> Runs { get; } = new();
}
