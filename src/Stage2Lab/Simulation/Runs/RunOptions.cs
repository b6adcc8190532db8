namespace Stage2Lab.Simulation.Runs;

/// <summary>What a scenario run records beyond the metrics, and how it reports progress (a record: callers add to a copy with `with`).</summary>
public sealed record RunOptions
{
    /// <summary>Explain the first fault at this IPA's page (and, with <see cref="ExplainEvent"/>, in that timeline event).</summary>
    public ulong? ExplainIpa { get; init; }

    /// <summary>1-based timeline event index the explained fault must come from.</summary>
    public int? ExplainEvent { get; init; }

    /// <summary>Keep one representative decision per distinct kind of fault (costs an explanation per fault).</summary>
    public bool CaptureDecisions { get; init; } = true;

    /// <summary>Run the invariant checker after every access and event.</summary>
    public bool Check { get; init; }

    /// <summary>With <see cref="Check"/>: keep at most this many violations.</summary>
    public int MaxViolations { get; init; } = 100;

    /// <summary>With <see cref="Check"/>: stop at the first violation.</summary>
    public bool StopOnViolation { get; init; }

    /// <summary>The guest TLB model's profile (docs/tlb-model.md); null: the model is off.</summary>
    public Tlb.TlbProfile? Tlb { get; init; }

    /// <summary>Shared by the runs of one command that play the same workloads (compare's policies, a sweep's
    /// points, advise's candidates): each random or Zipf workload is drawn once (<see cref="Workloads.AccessStreamCache"/>).</summary>
    public Workloads.AccessStreamCache? AccessStreams { get; init; }

    /// <summary>Where the run's table pages come from and go back to when it ends: a thread that plays run after
    /// run (a sweep's worker) passes the same one to each (not thread-safe); null: fresh pages.</summary>
    public PageTables.TablePageCache? TablePages { get; init; }

    /// <summary>Called with (accesses done, accesses in the whole run) every 65,536 accesses.</summary>
    public Action<long, long>? Progress { get; init; }
}
