using System.Globalization;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Tlb;

namespace Stage2Lab.Reports;

/// <summary>
/// The guest TLB model's rows and tables for `run` and `compare` (docs/tlb-model.md), named as gem5 names its Arm
/// TLB and walker statistics. Nothing is shown for a run made with the model off.
/// </summary>
public static class TlbTables
{
    /// <summary>Adds a row: label, the value per run, how a value is shown (the compare table's own row maker).</summary>
    public delegate void RowMaker(string label, Func<PolicyRun, double> value, Func<double, string> show);

    /// <summary>The guest-side rows of the compare table: totals, then walks, references and time per phase.</summary>
    public static void AddCompareRows(ReportTable table, ScenarioResult result, RowMaker row)
    {
        PolicyRun? first = result.Runs.FirstOrDefault(r => r.TlbProfile is not null);
        if (first is null)
            return;
        static string Count(double v) => Format.Count((long)v);
        static TlbCounters Total(PolicyRun r) => r.TotalTlb ?? default;
        static TlbCounters At(PolicyRun r, int phase) => phase < r.Phases.Count ? r.Phases[phase].Tlb ?? default : default;

        table.Section();
        row($"guest TLB ({first.TlbProfile!.Name}): dtb.accesses", r => Total(r).DtbHits + Total(r).DtbMisses, Count);
        row("  dtb.hits", r => Total(r).DtbHits, Count);
        row("  dtb.misses", r => Total(r).DtbMisses, Count);
        row("itb.accesses", r => Total(r).ItbHits + Total(r).ItbMisses, Count);
        row("  itb.misses", r => Total(r).ItbMisses, Count);
        row("l2_shared.accesses", r => Total(r).L2Accesses, Count);
        row("  l2_shared.hits", r => Total(r).L2Hits, Count);
        row("  l2_shared.misses", r => Total(r).L2Misses, Count);
        row("  l2_shared.flushedEntries", r => Total(r)[TlbStat.L2FlushedEntries], Count);
        row("stage2_tlb.hits", r => Total(r)[TlbStat.Stage2Hits], Count);
        row("stage2_walker.walks", r => Total(r)[TlbStat.Stage2Walks], Count);
        for (int level = 0; level < 4; level++)
        {
            TlbStat stat = TlbStat.Stage2WalksTerminatedAtLevel0 + level;
            if (result.Runs.Any(r => Total(r)[stat] != 0))
                row("  " + stat.Name()["stage2_walker.".Length..], r => Total(r)[stat], Count);
        }

        table.Section();
        row("walker.walks", r => Total(r)[TlbStat.Walks], Count);
        PerPhase(r => Total(r)[TlbStat.Walks], (r, p) => At(r, p)[TlbStat.Walks], Count);
        for (int level = 0; level < 4; level++)
        {
            TlbStat stat = TlbStat.WalksTerminatedAtLevel0 + level;
            if (result.Runs.Any(r => Total(r)[stat] != 0))
                row("  " + stat.Name(), r => Total(r)[stat], Count);
        }
        foreach (TlbStat stat in PageSizeStats)
        {
            if (result.Runs.Any(r => Total(r)[stat] != 0))
                row("  " + stat.Name(), r => Total(r)[stat], Count);
        }
        row("walker.memRefs", r => Total(r)[TlbStat.WalkMemRefs], Count);
        PerPhase(r => Total(r)[TlbStat.WalkMemRefs], (r, p) => At(r, p)[TlbStat.WalkMemRefs], Count);
        row("  memRefs per walk", r => Total(r).MemRefsPerWalk, PerWalk);
        row("  memRefs per walk without walk cache", r => Total(r).MemRefsPerWalkWithoutCaches, PerWalk);
        row($"estimated guest time ({first.TlbProfile.Name})", r => r.TotalEstimatedGuestNs, Format.Duration);
        PerPhase(r => r.TotalEstimatedGuestNs, (r, p) => p < r.Phases.Count ? r.Phases[p].EstimatedGuestNs : 0, Format.Duration);

        table.Notes.Add(Assumptions(first.TlbProfile));

        // One sub-row per phase that did something in some run (phases are the same events in every run).
        void PerPhase(Func<PolicyRun, double> total, Func<PolicyRun, int, double> at, Func<double, string> show)
        {
            int[] busy = [.. Enumerable.Range(0, first.Phases.Count).Where(p => result.Runs.Any(r => at(r, p) != 0))];
            foreach (PhaseRow phases in PhaseRows.Of(busy))
                row($"  {phases.Label(first)}", r => phases.Sum(p => at(r, p)), show);
        }
    }

    /// <summary>`run`: the guest TLB phase by phase (none when the model was off).</summary>
    public static IReadOnlyList<ReportTable> Phases(PolicyRun run)
    {
        if (run.TlbProfile is not { } profile)
            return [];
        var table = new ReportTable($"{run.Policy}: guest TLB ({profile.Name}) phase by phase",
            "phase", "dtb.accesses", "dtb.misses", "itb.misses", "l2_shared.hits", "l2_shared.misses", "walker.walks", "walker.memRefs",
            "per walk (no walk cache)", "walker.pageSizes", "guest time");
        foreach (PhaseRow row in PhaseRows.All(run))
        {
            var counters = new TlbCounters();
            double ns = 0;
            foreach (int p in row.Phases.Span)
            {
                counters += run.Phases[p].Tlb ?? default;
                ns += run.Phases[p].EstimatedGuestNs;
            }
            Add(row.Label(run), counters, ns);
        }
        table.Section();
        TlbCounters total = run.TotalTlb ?? default;
        Add("total", total, run.TotalEstimatedGuestNs);
        var levels = Enumerable.Range(0, 4).Select(l => TlbStat.WalksTerminatedAtLevel0 + l).Where(s => total[s] != 0)
            .Select(s => $"{s.Name()} {Format.Count(total[s])}").ToList();
        var s2levels = Enumerable.Range(0, 4).Select(l => TlbStat.Stage2WalksTerminatedAtLevel0 + l).Where(s => total[s] != 0)
            .Select(s => $"{s.Name()} {Format.Count(total[s])}").ToList();
        if (levels.Count + s2levels.Count > 0)
            table.Notes.Add(string.Join("; ", levels.Concat(s2levels)) + ".");
        table.Notes.Add($"stage2_tlb.hits {Format.Count(total[TlbStat.Stage2Hits])}, stage2_tlb.misses {Format.Count(total[TlbStat.Stage2Misses])}; "
            + $"l2_shared.partialHits {Format.Count(total[TlbStat.L2PartialHits])}; l2_shared.flushedEntries {Format.Count(total[TlbStat.L2FlushedEntries])}; "
            + $"walker.stage1Faults {Format.Count(total[TlbStat.Stage1Faults])}; walker.stage2Faults {Format.Count(total[TlbStat.Stage2FaultWalks])}.");
        table.Notes.Add(Assumptions(profile));
        return [table];

        void Add(string name, in TlbCounters c, double ns) => table.Add(
            name,
            Format.Count(c.DtbHits + c.DtbMisses),
            Format.Count(c.DtbMisses),
            Format.Count(c.ItbMisses),
            Format.Count(c.L2Hits),
            Format.Count(c.L2Misses),
            Format.Count(c[TlbStat.Walks]),
            Format.Count(c[TlbStat.WalkMemRefs]),
            c[TlbStat.Walks] == 0 ? "-" : $"{PerWalk(c.MemRefsPerWalk)} ({PerWalk(c.MemRefsPerWalkWithoutCaches)})",
            PageSizes(c),
            Format.Duration(ns));
    }

    /// <summary>What the guest time assumes: the profile's costs, and where the rest is documented.</summary>
    public static string Assumptions(TlbProfile profile) =>
        $"Guest TLB profile {profile.Name}: {profile.Description}. Estimated guest time = (l2_shared.accesses × {Num(profile.L2LookupCycles)} cycles "
        + $"+ walker.memRefs × {Num(profile.WalkReferenceCycles)} cycles) / {Num(profile.ClockGhz)} GHz; the walk-reference cost and the clock are assumptions "
        + "(docs/tlb-model.md). Guest stage 1 from the scenario's guest: section (default: 4K pages, no THP, VA = IPA); L2-guest accesses are not counted.";

    public static IReadOnlyList<TlbStat> PageSizeStats { get; } =
        [TlbStat.PageSize4K, TlbStat.PageSize16K, TlbStat.PageSize64K, TlbStat.PageSize2M, TlbStat.PageSize32M, TlbStat.PageSize512M, TlbStat.PageSize1G, TlbStat.PageSize16G];

    /// <summary>"1,234×4KiB 12×1GiB": the sizes of the entries the walks produced.</summary>
    public static string PageSizes(in TlbCounters c)
    {
        var parts = new List<string>();
        foreach (TlbStat s in PageSizeStats)
        {
            if (c[s] != 0)
                parts.Add($"{Format.Count(c[s])}×{s.Name()["walker.pageSizes::".Length..]}");
        }
        return parts.Count == 0 ? "-" : string.Join(" ", parts);
    }

    private static string PerWalk(double refs) => refs.ToString("0.00", CultureInfo.InvariantCulture);

    private static string Num(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);
}
