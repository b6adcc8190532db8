using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using Stage2Lab.PageTables;
using Stage2Lab.Simulation.Playback;
using Stage2Lab.Simulation.Runs;

namespace Stage2Lab.Reports;

/// <summary>The tables `run` and `compare` print, built from run results.</summary>
public static class RunTables
{
    /// <summary>Every policy side by side, each cell with its ratio against the first policy.</summary>
    public static ReportTable Compare(ScenarioResult result)
    {
        var columns = new List<string> { "" };
        columns.AddRange(result.Runs.Select(r => r.Policy));
        var table = new ReportTable($"{result.Scenario}: policies compared (ratios against {result.Runs[0].Policy})", columns.ToArray());
        PolicyRun first = result.Runs[0];
        Granule granule = first.Granule;

        void Row(string label, Func<PolicyRun, double> value, Func<double, string> show)
        {
            var cells = new string[result.Runs.Count + 1];
            cells[0] = label;
            double baseline = value(first);
            for (int i = 0; i < result.Runs.Count; i++)
            {
                double v = value(result.Runs[i]);
                string ratio = i == 0 ? "" : Format.Ratio(v, baseline);
                cells[i + 1] = ratio.Length == 0 ? show(v) : $"{show(v)} {ratio}";
            }
            table.Add(cells);
        }
        string Count(double v) => Format.Count((long)v);

        table.Section();
        Row("stage-2 faults", r => r.TotalFaults.Faults, Count);
        Row("  mapped", r => r.TotalFaults.Mapped, Count);
        Row("  permissions relaxed", r => r.TotalFaults.Relaxed, Count);
        Row("  MMIO exits", r => r.TotalFaults.MmioExits, Count);
        Row("  errors (EFAULT/ENOEXEC)", r => r.TotalFaults.Errors, Count);
        Row("guest accesses", r => r.TotalFaults.Accesses, Count);
        table.Section();
        Row("leaves mapped at slot creation", r => r.Phases[0].Events.LeavesInstalled, Count);
        Row("leaves installed", r => r.TotalEvents.LeavesInstalled, Count);
        for (int level = granule.MinBlockLevel; level <= Granule.LastLevel; level++)
        {
            int l = level;
            string what = l == Granule.LastLevel ? "pages" : "blocks";
            Row($"live {SizeText.Format(granule.LevelSize(l))} {what} (L{l}) at the end", r => r.Final.Leaves[l], Count);
        }
        if (result.Runs.Any(r => r.Final.ShadowLeaves is not null))
        {
            // An L2 guest: what its shadow stage 2 holds, and the faults that were the L1 hypervisor's.
            Row("L2 faults forwarded to L1", r => r.TotalFaults.ForwardedToL1, Count);
            for (int level = granule.MinBlockLevel; level <= Granule.LastLevel; level++)
            {
                int l = level;
                string what = l == Granule.LastLevel ? "pages" : "blocks";
                Row($"shadow (L2) {SizeText.Format(granule.LevelSize(l))} {what} (L{l}) at the end", r => r.Final.ShadowLeaves?[l] ?? 0, Count);
            }
        }
        table.Section();
        Row("page-table memory at the end", r => r.Final.TableBytes, v => Format.Bytes(v));
        Row("  table pages", r => r.Final.TablePages.Sum(), Count);
        table.Section();
        Row("TLB invalidations", r => r.TotalEvents.TlbiTotal, Count);
        Row("  whole-VMID (VMALLS12E1IS)", r => r.TotalEvents[Stage2Counter.TlbiVmalls12e1is], Count);
        Row("descriptor writes", r => r.TotalEvents[Stage2Counter.DescriptorWrites], Count);
        Row("break-before-make", r => r.TotalEvents[Stage2Counter.BreakBeforeMake], Count);
        Row("cleaned to PoC", r => r.TotalEvents[Stage2Counter.DcacheCleanBytes], v => Format.Bytes(v));
        Row("I-cache invalidated", r => r.TotalEvents[Stage2Counter.IcacheInvalBytes], v => Format.Bytes(v));
        Row("dirty pages at the end", r => r.Final.DirtyPages, Count);
        table.Section();
        Row($"estimated host time ({first.Profile.Name})", r => r.TotalEstimatedNs, Format.Duration);
        foreach (PhaseRow phases in PhaseRows.All(first))
            Row($"  {phases.Label(first)}", r => phases.Sum(p => p < r.Phases.Count ? r.Phases[p].EstimatedNs : 0), Format.Duration);
        TlbTables.AddCompareRows(table, result, Row);
        if (result.Runs.Any(r => r.Violations.Count > 0))
        {
            table.Section();
            Row("invariant violations", r => r.Violations.Count, Count);
        }
        foreach (PolicyRun run in result.Runs)
            table.Notes.Add($"{run.Policy}: {run.Description}");
        table.Notes.Add($"Cost profile {first.Profile.Name}: {first.Profile.Description}");
        foreach (PolicyRun run in result.Runs)
            AddRefusalNotes(table, run, $"{run.Policy}, ");
        return table;
    }

    /// <summary>One policy, phase by phase.</summary>
    public static ReportTable Phases(PolicyRun run)
    {
        Granule g = run.Granule;
        var table = new ReportTable($"{run.Policy}: phase by phase", "phase", "accesses", "faults", "MMIO", "leaves installed", "tables at end", "TLBIs", "cleaned", $"time ({run.Profile.Name})");
        foreach (PhaseRow row in PhaseRows.All(run))
        {
            PhaseResult last = run.Phases[row.Last];
            ulong accesses = 0;
            var faults = new VmCounters();
            var events = new Stage2Counters();
            double ns = 0;
            foreach (int p in row.Phases.Span)
            {
                PhaseResult phase = run.Phases[p];
                accesses += phase.Accesses;
                faults += phase.Faults;
                events += phase.Events;
                ns += phase.EstimatedNs;
            }
            table.Add(
                row.Label(run),
                Format.Count(accesses),
                Format.Count(faults.Faults),
                Format.Count(faults.MmioExits),
                Leaves(events, g),
                // A folded row's tables are those at the end of its last phase.
                $"{Format.Count(last.TablePages.Sum())} ({Format.Bytes(last.TableBytes)})",
                Format.Count(events.TlbiTotal),
                Format.Bytes(events[Stage2Counter.DcacheCleanBytes]),
                Format.Duration(ns));
        }
        var totalEvents = run.TotalEvents;
        var totalFaults = run.TotalFaults;
        table.Section();
        table.Add("total", Format.Count(totalFaults.Accesses), Format.Count(totalFaults.Faults), Format.Count(totalFaults.MmioExits),
            Leaves(totalEvents, g), "", Format.Count(totalEvents.TlbiTotal), Format.Bytes(totalEvents[Stage2Counter.DcacheCleanBytes]), Format.Duration(run.TotalEstimatedNs));
        table.Notes.Add($"{run.Policy}: {run.Description}");
        table.Notes.Add($"At the end: {FinalLeaves(run)}; page tables {Format.Bytes(run.Final.TableBytes)} in {Format.Count(run.Final.TablePages.Sum())} pages; {Format.Count(run.Final.DirtyPages)} dirty pages.");
        AddRefusalNotes(table, run, "");
        foreach (var v in run.Violations)
            table.Notes.Add("invariant violation: " + v);
        return table;
    }

    /// <summary>Refusal notes a table lists per run; a timeline refused thousands of times gets the first ones and a count.</summary>
    public const int MaxRefusalNotes = 20;

    /// <summary>The run's refused ioctls as notes, in timeline order: at most <see cref="MaxRefusalNotes"/>, then how many more.</summary>
    private static void AddRefusalNotes(ReportTable table, PolicyRun run, string prefix)
    {
        int listed = 0, more = 0;
        foreach (PhaseResult phase in run.Phases)
        {
            foreach (EventRefusal refusal in phase.Refusals)
            {
                if (listed == MaxRefusalNotes)
                {
                    more++;
                    continue;
                }
                table.Notes.Add($"{prefix}{phase.Name}: refused {RefusalText.Describe(refusal)}");
                listed++;
            }
        }
        if (more > 0)
            table.Notes.Add($"{prefix}… and {Format.Count(more)} more refusals (--format json lists every one).");
    }

    public static string FinalLeaves(PolicyRun run)
    {
        var parts = new List<string>();
        for (int level = 0; level <= Granule.LastLevel; level++)
        {
            if (run.Final.Leaves[level] != 0)
                parts.Add($"{Format.Count(run.Final.Leaves[level])} × {SizeText.Format(run.Granule.LevelSize(level))} ({Format.Bytes(run.Final.MappedBytes[level])})");
        }
        return parts.Count == 0 ? "nothing mapped" : string.Join(", ", parts);
    }

    private static string Leaves(in Stage2Counters e, Granule g)
    {
        var parts = new List<string>();
        for (int level = 0; level <= Granule.LastLevel; level++)
        {
            long n = e[Stage2Counter.LeavesInstalledL0 + level];
            if (n != 0)
                parts.Add($"{Format.Count(n)}×{SizeText.Format(g.LevelSize(level))}");
        }
        return parts.Count == 0 ? "0" : string.Join(" ", parts);
    }
}
