using Stage2Lab.Arch;
using Stage2Lab.PageTables;
using Stage2Lab.Simulation.Runs;

namespace Stage2Lab.Simulation.Advice;

/// <summary>
/// What a suggestion is judged by, before and after: faults, live leaves by level and page-table memory at the end
/// of the timeline, TLB invalidations, bytes cleaned to PoC, the estimated host and guest (TLB model) times, and their sum (<see cref="AdviceTime"/>).
/// </summary>
public sealed record RunMetrics(
    Granule Granule,
    long Faults,
    long MmioExits,
    long Errors,
    long Injected,
    long Refusals,
    ulong Accesses,
    IReadOnlyList<long> Leaves,
    long TableBytes,
    long TlbInvalidations,
    long CleanedBytes,
    double HostEstimatedNs,
    double GuestEstimatedNs)
{
    /// <summary>The time the suggestion is ranked by, derived so it cannot disagree with its parts.</summary>
    public double EstimatedNs => AdviceTime.Ns(HostEstimatedNs, GuestEstimatedNs);

    public static RunMetrics Of(PolicyRun run)
    {
        var faults = run.TotalFaults;
        Stage2Counters events = run.TotalEvents;
        return new RunMetrics(
            run.Granule,
            faults.Faults,
            faults.MmioExits,
            faults.Errors,
            faults.Injected,
            run.Phases.Sum(p => p.Refusals.Count),
            (ulong)faults.Accesses,
            [.. run.Final.Leaves],
            run.Final.TableBytes,
            events.TlbiTotal,
            events[Stage2Counter.DcacheCleanBytes],
            run.TotalEstimatedNs,
            run.TotalEstimatedGuestNs);
    }

    /// <summary>
    /// Whether the changed run does what the original did, only differently mapped: the same accesses, and no more
    /// MMIO exits, failed faults, injected aborts or refused ioctls. A change that breaks the VM is not a suggestion.
    /// </summary>
    public bool KeepsBehaviourOf(RunMetrics before) =>
        Accesses == before.Accesses && MmioExits <= before.MmioExits && Errors <= before.Errors && Injected <= before.Injected && Refusals <= before.Refusals;
}
