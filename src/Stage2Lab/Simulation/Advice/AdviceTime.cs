using Stage2Lab.Simulation.Runs;

namespace Stage2Lab.Simulation.Advice;

/// <summary>
/// The time advise ranks by: the one place that says what "time" a run took. The host's estimated time (the cost
/// model's faults, cache maintenance, TLB invalidations and table pages) plus, when the run carried the guest TLB
/// model (<see cref="AdviceOptions.Tlb"/>), the guest's estimated translation time (docs/tlb-model.md): the
/// ranking, the "saves nothing" filter and every report follow from here.
/// </summary>
public static class AdviceTime
{
    /// <summary>Estimated nanoseconds of one policy's run of a scenario.</summary>
    public static double Ns(PolicyRun run) => Ns(run.TotalEstimatedNs, run.TotalEstimatedGuestNs);

    /// <summary>The same from a run's host and guest estimates (<see cref="RunMetrics"/>).</summary>
    public static double Ns(double hostEstimatedNs, double guestEstimatedNs) => hostEstimatedNs + guestEstimatedNs;
}
