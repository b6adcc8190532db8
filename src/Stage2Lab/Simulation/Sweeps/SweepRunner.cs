using Stage2Lab.PageTables;
using Stage2Lab.Simulation.Campaigns;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Scenarios;
using Stage2Lab.Simulation.Workloads;

namespace Stage2Lab.Simulation.Sweeps;

/// <summary>
/// Runs a sweep's points (those of one shard) under each policy on <c>jobs</c> threads. Every run is independent
/// (its own VM; the runs of a point share its scenario, which they only read) and lands in its slot of the
/// result, so the rows are the same, in the same order, whatever the number of jobs or the machine's load.
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
        long points = end - first;
        long items = points * policies;
        var rows = new SweepRow[items];
        // The name of point 0, whichever the shard: every shard of a sweep says the same.
        Scenario point0 = plan.Load(0);
        string scenarioName = point0.Name;
        long done = 0;
        // Representative decisions cost an explanation per fault and a sweep shows none: metrics only.
        // The points' workloads are mostly the same from point to point (a sweep over a mapping's placement leaves
        // them as they are): each is drawn once and replayed by every run.
        var options = new RunOptions { CaptureDecisions = false, AccessStreams = new AccessStreamCache() };
        // Each (point, policy) run is a work item, taken in order by whichever thread is free: points in order,
        // and a point's heaviest policies first, so the last items are light ones and every thread keeps working
        // to the end. A point is read once and its runs share it (a run only reads its scenario, as advise's
        // parallel runs do); it is let go when its last run is done.
        int[] policyOrder = HeaviestFirst(point0, plan.Policies);
        var scenarios = new PointScenarios(plan, first, points, policies);
        long next = -1;
        Parallel.For(0, (int)Math.Min(jobs, Math.Max(1, items)), new ParallelOptions { MaxDegreeOfParallelism = jobs }, _ =>
        {
            // This thread's runs hand their table memory on, one to the next.
            RunOptions threadOptions = options with { TablePages = new TablePageCache() };
            long item;
            while ((item = Interlocked.Increment(ref next)) < items)
            {
                long pointIndex = item / policies;
                int policy = policyOrder[(int)(item % policies)];
                long point = first + pointIndex;
                Scenario s = scenarios.Take(pointIndex);
                PolicyRun run = ScenarioRunner.Run(s, plan.Policies[policy], threadOptions);
                var metrics = new long[SweepMetrics.All.Count];
                for (int m = 0; m < metrics.Length; m++)
                    metrics[m] = SweepMetrics.All[m].Of(run);
                rows[pointIndex * policies + policy] = new SweepRow(point, plan.ValuesAt(point), run.Policy, s.Host.PageSize.Name, metrics);
                scenarios.Done(pointIndex);
                long n = Interlocked.Increment(ref done);
                progress?.Invoke(n, items);
            }
        });
        return new SweepResult(scenarioName, Path.GetFileName(plan.File), plan.ScenarioSha256, plan.Axes, plan.Policies, plan.Points, shard, rows);
    }

    /// <summary>
    /// The policies' indices, the most expensive first: those that map PFNMAP slots page by page at creation
    /// (v5.9, v5.13: millions of descriptors for a large BAR) before those that map on fault. Only the order in
    /// which runs start depends on it, never a result or its place.
    /// </summary>
    private static int[] HeaviestFirst(Scenario s, IReadOnlyList<string> policies)
    {
        var pages = new ulong[policies.Count];
        for (int i = 0; i < pages.Length; i++)
            pages[i] = MemoryEstimator.Estimate(s, policies[i]).PagesMappedAtCreation;
        int[] order = [.. Enumerable.Range(0, policies.Count)];
        // A stable sort: equal costs keep the order given.
        return [.. order.OrderByDescending(i => pages[i])];
    }

    /// <summary>Each point's scenario, read by the first of its runs to start and let go by the last to end.</summary>
    private sealed class PointScenarios(SweepPlan plan, long first, long points, int runsPerPoint)
    {
        private readonly Scenario?[] _scenarios = new Scenario?[points];
        private readonly int[] _runsLeft = [.. Enumerable.Repeat(runsPerPoint, (int)points)];
        private readonly Lock[] _locks = [.. Enumerable.Range(0, 64).Select(_ => new Lock())];

        public Scenario Take(long index)
        {
            lock (_locks[index % _locks.Length])
                return _scenarios[index] ??= plan.Load(first + index);
        }

        public void Done(long index)
        {
            if (Interlocked.Decrement(ref _runsLeft[index]) == 0)
            {
                lock (_locks[index % _locks.Length])
                    _scenarios[index] = null;
            }
        }
    }
}
