namespace Stage2Lab.Simulation.Runs;

/// <summary>How a scenario run reports progress and what it records beyond the counters.</summary>
public sealed class RunOptions
{
    /// <summary>Explain the first fault at this IPA's page (and, with <see cref="ExplainEvent"/>, in that timeline event).</summary>
    public ulong? ExplainIpa { get; init; }

    /// <summary>1-based timeline event index the explained fault must come from.</summary>
    public int? ExplainEvent { get; init; }

    /// <summary>How many of the costliest faults to keep with their explanations.</summary>
    public int CostliestDecisions { get; init; } = 3;

    /// <summary>Called with (accesses done, accesses in the whole run) every few hundred thousand accesses.</summary>
    public Action<ulong, ulong>? Progress { get; init; }

    /// <summary>Called after every phase.</summary>
    public Action<Kvm.KvmVm, PhaseResult>? AfterPhase { get; init; }

    /// <summary>Looks at the VM after every access and event (invariants).</summary>
    public IRunChecker? Checker { get; init; }

    /// <summary>Stop the run at the first event after which <see cref="Checker"/> has failed.</summary>
    public bool StopOnViolation { get; init; }
}
