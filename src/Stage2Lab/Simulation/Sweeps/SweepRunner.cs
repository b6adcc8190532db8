using Stage2Lab.Simulation.Campaigns;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Sweeps;

/// <summary>
/// Runs a sweep's points (those of one shard) under each policy on <c>jobs</c> threads. Every run is independent
/// (its own scenario object, its own VM) and lands in its slot of the result, so the rows are the same, in the
/// same order, whatever the number of jobs or the machine's load.
/// </summary>
public static class SweepRunner
{
    /// <summary>
    /// Reads every point of the shard once before anything runs: a value that the scenario refuses stops the
    /// sweep at once, with the error and the point's values, rather than after hours.
    /// </summary>
    public static void Validate(SweepPlan plan, Shard shard, Action<Scenario>? eachPoint = null)
    {
        var (first, end) = shard.Range(plan.Points);
        for (long p = first; p < end; p++)
        {
            Scenario s = plan.Load(p);
            eachPoint?.Invoke(s);
        }
    }

    public static SweepResult Run(SweepPlan plan, Shard shard, int jobs, Action<long, long>? progress = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(jobs, 1);
        var (first, end) = shard.Range(plan.Points);
        int policies = plan.Policies.Count;
        long items = (end - first) * policies;
        var rows = new SweepRow[items];
        // The name of point 0, whichever the shard: every shard of a sweep says the same.
        string scenarioName = plan.Load(0).Name;
        long done = 0;
        // Representative decisions cost an explanation per fault and a sweep shows none: metrics only.
        var options = new RunOptions { CaptureDecisions = false };
        // A point is read once and run under its policies one after another on one thread (as compare runs a
        // scenario); with fewer points than threads to keep busy, each (point, policy) is its own work item.
        int perItem = (end - first) >= jobs * 4L ? policies : 1;
        Parallel.For(0L, items / perItem, new ParallelOptions { MaxDegreeOfParallelism = jobs }, work =>
        {
            long item = work * perItem;
            long point = first + item / policies;
            Scenario s = plan.Load(point);
            string[] values = plan.ValuesAt(point);
            for (int k = 0; k < perItem; k++, item++)
            {
                PolicyRun run = ScenarioRunner.Run(s, plan.Policies[(int)(item % policies)], options);
                var metrics = new long[SweepMetrics.All.Count];
                for (int m = 0; m < metrics.Length; m++)
                    metrics[m] = SweepMetrics.All[m].Of(run);
                rows[item] = new SweepRow(point, values, run.Policy, s.Host.PageSize.Name, metrics);
                long n = Interlocked.Increment(ref done);
                progress?.Invoke(n, items);
            }
        });
        return new SweepResult(scenarioName, Path.GetFileName(plan.File), plan.ScenarioSha256, plan.Axes, plan.Policies, plan.Points, shard, rows);
    }
}
