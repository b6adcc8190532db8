using System.Runtime.ExceptionServices;
using Stage2Lab.Kvm.Policies;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Scenarios;
using Stage2Lab.Simulation.Workloads;

namespace Stage2Lab.Simulation.Advice;

/// <summary>
/// `advise`: runs the scenario under each policy, reads each slot's binding constraints from the typed decisions,
/// turns them into concrete changes (<see cref="CandidateFinder"/>), and verifies every change by running the changed
/// scenario under the same policy — never by estimating. Runs are independent and made in parallel; results are
/// put in order by index, so the output does not depend on how many ran at once.
/// </summary>
public static class Advisor
{
    public static AdviceResult Advise(Scenario s, AdviceOptions options)
    {
        IReadOnlyList<string> policies = options.Policies;
        var progress = new ProgressCounter(options.Progress);

        // 1. The scenario as it is, with its representative decisions.
        var baselineJobs = policies.Select(p => new Job(s, p, CaptureDecisions: true)).ToArray();
        progress.Add(baselineJobs.Length);
        JobResult[] baselineResults = RunAll(baselineJobs, options, progress);
        var baselines = new PolicyRun[policies.Count];
        for (int i = 0; i < baselines.Length; i++)
        {
            if (baselineResults[i].Error is { } error)
                error.Throw();
            baselines[i] = baselineResults[i].Run!;
        }
        var result = new AdviceResult
        {
            Scenario = s.Name,
            File = s.SourceFile,
            Description = s.Description,
            Policies = policies,
            Baselines = baselines,
        };
        foreach (PolicyRun run in baselines)
            result.Slots.AddRange(SlotSummaries.Of(s, run, options.Sources));

        // 2. The changes worth trying, each applied once however many policies try it.
        var candidates = new List<Candidate>();
        foreach (PolicyRun run in baselines)
            candidates.AddRange(CandidateFinder.Find(s, run, options.MaxChangesPerPolicy));
        var changed = new Dictionary<string, Scenario>(StringComparer.Ordinal);
        var jobs = new List<Job>();
        var jobOf = new int[candidates.Count];
        for (int i = 0; i < candidates.Count; i++)
        {
            Candidate c = candidates[i];
            if (!changed.TryGetValue(c.Change.Key, out Scenario? scenario))
                changed[c.Change.Key] = scenario = c.Change.Apply(s);
            if (EstimateBytes(scenario, c.Policy) > options.MemoryLimitBytes)
            {
                jobOf[i] = -1;
                continue;
            }
            jobOf[i] = jobs.Count;
            jobs.Add(new Job(scenario, c.Policy, CaptureDecisions: false));
        }
        progress.Add(jobs.Count);

        // 3. Every change verified by a run.
        JobResult[] results = RunAll([.. jobs], options, progress);
        result.Runs = baselineJobs.Length + jobs.Count;
        for (int i = 0; i < candidates.Count; i++)
        {
            Candidate c = candidates[i];
            RunMetrics before = RunMetrics.Of(baselines[IndexOf(policies, c.Policy)]);
            if (jobOf[i] < 0)
            {
                result.NotShown.Add(new TriedChange(c.Change, c.Policy, NotShownReason.OverMemoryLimit, null, null));
                continue;
            }
            JobResult r = results[jobOf[i]];
            if (r.Metrics is not { } after)
            {
                result.NotShown.Add(new TriedChange(c.Change, c.Policy, NotShownReason.CannotBeMade, r.Invalid, null));
                continue;
            }
            if (!after.KeepsBehaviourOf(before))
                result.NotShown.Add(new TriedChange(c.Change, c.Policy, NotShownReason.ChangesBehaviour, null, after));
            else if (Math.Round(before.EstimatedNs - after.EstimatedNs) <= 0)
                result.NotShown.Add(new TriedChange(c.Change, c.Policy, NotShownReason.SavesNothing, null, after));
            else
                result.Suggestions.Add(new Suggestion(c.Change, c.Policy, c.Lifts, c.From, before, after, SourcesOf(s, c.Change, options.Sources)));
        }
        result.Suggestions.Sort((a, b) => Rank(a, b, policies));
        return result;
    }

    /// <summary>Most time saved first; ties by kind, policy order and the change's numbers (deterministic).</summary>
    private static int Rank(Suggestion a, Suggestion b, IReadOnlyList<string> policies)
    {
        int c = Math.Round(b.SavedNs).CompareTo(Math.Round(a.SavedNs));
        if (c == 0)
            c = a.Change.Kind.CompareTo(b.Change.Kind);
        if (c == 0)
            c = IndexOf(policies, a.Policy).CompareTo(IndexOf(policies, b.Policy));
        return c != 0 ? c : string.CompareOrdinal(a.Change.Key, b.Change.Key);
    }

    private static int IndexOf(IReadOnlyList<string> policies, string policy)
    {
        for (int i = 0; i < policies.Count; i++)
        {
            if (policies[i] == policy || PolicyRegistry.Find(policies[i])?.Name == policy)
                return i;
        }
        return policies.Count;
    }

    /// <summary>The import records behind the change's slot and mappings, when the scenario names them.</summary>
    private static List<ItemSource> SourcesOf(Scenario s, ScenarioChange change, ScenarioSources sources)
    {
        var found = new List<ItemSource>();
        if (change.SlotId is { } id && ScenarioLayout.SlotSpecs(s, id).FirstOrDefault() is { } slot && sources.For(slot.Where) is { } slotRecords)
            found.Add(new ItemSource($"slot {id}", slotRecords));
        foreach (string name in change.Mappings)
        {
            if (ScenarioLayout.Mapping(s, name) is { } m && sources.For(m.Where) is { } records)
                found.Add(new ItemSource($"mapping {name}", records));
        }
        return found;
    }

    /// <summary>
    /// What a run is estimated to need (<see cref="MemoryEstimator"/>); beyond every limit when it would map more
    /// pages one by one at slot creation, or walk more entries, than a run may.
    /// </summary>
    private static ulong EstimateBytes(Scenario s, string policy)
    {
        MemoryEstimate e = MemoryEstimator.Estimate(s, policy);
        return e.ExceedsWorkLimits ? ulong.MaxValue : e.TotalBytes;
    }

    private readonly record struct Job(Scenario Scenario, string Policy, bool CaptureDecisions);

    /// <summary>
    /// A baseline job keeps its whole run (its decisions are shown); a candidate only the metrics it is judged by,
    /// so that a long timeline's phases are not held once per candidate.
    /// </summary>
    private readonly record struct JobResult(PolicyRun? Run, RunMetrics? Metrics, string? Invalid, ExceptionDispatchInfo? Error);

    /// <summary>
    /// Runs the jobs, as many at once as the options and the memory limit allow; result i is job i's. A changed
    /// scenario the host refuses is a result (<see cref="JobResult.Invalid"/>), not a failure.
    /// </summary>
    private static JobResult[] RunAll(Job[] jobs, AdviceOptions options, ProgressCounter progress)
    {
        var results = new JobResult[jobs.Length];
        if (jobs.Length == 0)
            return results;
        ulong largest = jobs.Max(j => EstimateBytes(j.Scenario, j.Policy));
        int byMemory = (int)Math.Clamp(options.MemoryLimitBytes / Math.Max(1, largest), 1, int.MaxValue);
        int parallelism = Math.Max(1, Math.Min(options.MaxParallelism, byMemory));
        // The candidates change the layout, not the workloads: each workload is drawn once for all of them.
        var streams = new AccessStreamCache();
        Parallel.For(0, jobs.Length, new ParallelOptions { MaxDegreeOfParallelism = parallelism }, i =>
        {
            Job job = jobs[i];
            try
            {
                PolicyRun run = ScenarioRunner.Run(job.Scenario, job.Policy, new RunOptions { CaptureDecisions = job.CaptureDecisions, Tlb = options.Tlb, AccessStreams = streams });
                results[i] = job.CaptureDecisions ? new JobResult(run, RunMetrics.Of(run), null, null) : new JobResult(null, RunMetrics.Of(run), null, null);
            }
            catch (ScenarioException ex) when (!job.CaptureDecisions)
            {
                results[i] = new JobResult(null, null, ex.Errors.Count > 0 ? ex.Errors[0].Message : ex.Message, null);
            }
            catch (Exception ex)
            {
                results[i] = new JobResult(null, null, null, ExceptionDispatchInfo.Capture(ex));
            }
            progress.Done();
        });
        foreach (JobResult r in results)
            r.Error?.Throw();
        return results;
    }

    /// <summary>Counts finished runs for a progress callback that may be called from any thread.</summary>
    private sealed class ProgressCounter(Action<int, int>? report)
    {
        private readonly object _gate = new();
        private int _done;
        private int _total;

        public void Add(int runs)
        {
            lock (_gate)
                _total += runs;
        }

        public void Done()
        {
            lock (_gate)
            {
                _done++;
                report?.Invoke(_done, _total);
            }
        }
    }
}
