using Stage2Lab.Simulation.Runs;

namespace Stage2Lab.Simulation.Advice;

/// <summary>
/// The time advise ranks by: the one place that says what "time" a run took. Today the host's estimated time (the
/// cost model's faults, cache maintenance, TLB invalidations and table pages); when runs carry the guest TLB
/// model's estimated time, adding it here changes the ranking, the "saves nothing" filter and every report at once.
/// </summary>
public static class AdviceTime
{
    /// <summary>Estimated nanoseconds of one policy's run of a scenario.</summary>
    public static double Ns(PolicyRun run) => run.TotalEstimatedNs;
}
