using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Scenarios;
using Stage2Lab.Simulation.Workloads;

namespace Stage2Lab.Simulation.Runs;

/// <summary>One part of a run's memory: what needs it, where the scenario asks for it, and how much.</summary>
public sealed record MemoryItem(string What, SourceSpan Where, ulong Bytes);

/// <summary>What a run of one policy is expected to need at most, and what for.</summary>
public sealed record MemoryEstimate(string Policy, ulong TotalBytes, IReadOnlyList<MemoryItem> Items)
{
    /// <summary>Pages mapped one kvm_pgtable_stage2_map call at a time when slots are created or moved (v5.9, v5.13).</summary>
    public ulong PagesMappedAtCreation { get; init; }

    /// <summary>The slot that maps the most pages at creation.</summary>
    public MemoryItem? LargestCreation { get; init; }

    /// <summary>An upper bound of the stage-2 entries the timeline's range events visit (<see cref="ScenarioLimits.MaxWalkVisitsPerRun"/>).</summary>
    public ulong WalkVisits { get; init; }

    /// <summary>The range event at which <see cref="WalkVisits"/> passes the limit, if it does.</summary>
    public TimelineEvent? WalkLimitPassedAt { get; init; }

    /// <summary>Whether the run is beyond a work limit (pages mapped one by one, or entries walked), whatever its memory.</summary>
    public bool ExceedsWorkLimits => PagesMappedAtCreation > ScenarioLimits.MaxPagesMappedAtCreation || WalkLimitPassedAt is not null;

    /// <summary>The part that needs the most (what to lower first).</summary>
    public MemoryItem? Largest => Items.Count == 0 ? null : Items.MaxBy(i => i.Bytes);
}

/// <summary>
/// An upper estimate of the memory a run will need, made before anything is allocated, so that a run that
/// would exhaust the machine is refused with the estimate and how to lower it instead of being killed. What
/// grows with the input is counted: stage-2 table pages (known up front for the page-by-page mapping of PFNMAP
/// VMAs at slot creation before 5.14, bounded by the accesses and the range for faults), dirty bitmaps, trace
/// accesses and each timeline event's results. The rest of a run is small and fixed (<see cref="BaseBytes"/>).
/// The same pass bounds the two kinds of work that grow with the timeline rather than with the accesses (whose
/// own limit the reader checks): pages mapped one by one at slot creation and moves, and entries visited by range
/// walks (<see cref="EnsureFits"/> refuses a run beyond either).
/// </summary>
public static class MemoryEstimator
{
    /// <summary>The runtime and the model's fixed structures: what any run needs.</summary>
    public const ulong BaseBytes = 64UL << 20;

    /// <summary>What a table page costs beyond its entries: the ulong[] header and the pool's per-page arrays.</summary>
    private const ulong TablePageOverheadBytes = 64;

    /// <summary>Bytes per trace access kept for the run (an IPA and an access kind).</summary>
    private const ulong TraceEntryBytes = 16;

    /// <summary>
    /// Bytes per timeline event per policy for its results: the phase's counters, kept until the output is written,
    /// and what writing it takes (the JSON document is streamed, one phase's object at a time). Measured on 100,000
    /// single-access events: 87 MB kept per policy; at the peak, 462 MB for `compare` (table) and 579 MB for
    /// `compare --format json` under three policies, 1.5-1.7 KB per event and policy beyond the runtime.
    /// </summary>
    private const ulong PhaseResultBytes = 2048;

    /// <summary>
    /// Policies whose kvm_arch_prepare_memory_region maps every page of a slot's VM_PFNMAP VMAs at creation
    /// (kvm_phys_addr_ioremap, one kvm_pgtable_stage2_map per page): 5.9 and 5.13; the 2021 series (seed-v3,
    /// 5.14 and later) removed it and maps on fault.
    /// </summary>
    private static readonly HashSet<string> PageByPageAtCreation = ["v5.9", "v5.13"];

    /// <summary>The default limit: a share (<see cref="ScenarioLimits.DefaultMemoryShare"/>) of what the process may use.</summary>
    public static ulong DefaultLimitBytes => (ulong)(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes * ScenarioLimits.DefaultMemoryShare);

    /// <summary>
    /// The estimate for one policy; <paramref name="check"/>: the invariant checker runs too; <paramref name="runs"/>:
    /// the policies whose results are kept together (a compare's), for the results' share.
    /// </summary>
    public static MemoryEstimate Estimate(Scenario s, string policy, bool check = false, int runs = 1)
    {
        Granule granule = s.Host.PageSize;
        ulong tablePageBytes = granule.PageSize + TablePageOverheadBytes;
        var items = new List<MemoryItem>();

        var slots = new List<MemslotSpec>(s.Memslots);
        foreach (TimelineEvent ev in s.Timeline)
        {
            if (ev is SlotCreateEvent c)
                slots.Add(c.Slot);
        }
        // By id, once: events name slots by id, and a scan of every slot per event is quadratic on a timeline of
        // thousands of events over thousands of slots. An id may be created again; the first spec answers Find,
        // the largest bounds the work.
        var firstById = new Dictionary<int, MemslotSpec>();
        var maxPagesById = new Dictionary<int, ulong>();
        ulong allSlotPages = 0;
        foreach (MemslotSpec slot in slots)
        {
            firstById.TryAdd(slot.Id, slot);
            allSlotPages = Saturating.Add(allSlotPages, slot.SizeBytes >> granule.PageShift);
            maxPagesById[slot.Id] = Math.Max(maxPagesById.GetValueOrDefault(slot.Id), slot.SizeBytes >> granule.PageShift);
        }

        ulong creationPages = 0;
        MemoryItem? largestCreation = null;
        if (PageByPageAtCreation.Contains(policy))
        {
            var maxPfnMapBytesById = new Dictionary<int, ulong>();
            // Only VM_PFNMAP VMAs mapped at mmap time are ioremapped (a fault-time remap is not yet VM_PFNMAP).
            VmaSpec[] pfnMaps = [.. s.Mappings.Where(v => v.Kind == VmaKind.PfnMap && !v.FaultTimeRemap)];
            foreach (MemslotSpec slot in slots)
            {
                ulong pfnmapBytes = PfnMapBytes(pfnMaps, slot);
                maxPfnMapBytesById[slot.Id] = Math.Max(maxPfnMapBytesById.GetValueOrDefault(slot.Id), pfnmapBytes);
                if (pfnmapBytes == 0)
                    continue;
                ulong tables = Saturating.Multiply(FullTables(granule, pfnmapBytes, ulong.MaxValue), tablePageBytes);
                var item = new MemoryItem($"page tables for mapping {SizeText.Format(pfnmapBytes)} of VM_PFNMAP memory of slot {slot.Id} page by page at slot creation ({policy}: kvm_phys_addr_ioremap)", slot.Where, tables);
                items.Add(item);
                ulong pages = pfnmapBytes >> granule.PageShift;
                creationPages = Saturating.Add(creationPages, pages);
                if (largestCreation is null || tables > largestCreation.Bytes)
                    largestCreation = item;
            }
            // kvm_arch_prepare_memory_region maps the PFNMAP VMAs again on KVM_MR_MOVE (the old range is unmapped
            // first, so the tables do not grow, but the pages are mapped one by one again).
            foreach (TimelineEvent ev in s.Timeline)
            {
                if (ev is SlotMoveEvent move)
                    creationPages = Saturating.Add(creationPages, maxPfnMapBytesById.GetValueOrDefault(move.SlotId) >> granule.PageShift);
            }
        }

        foreach (TimelineEvent ev in s.Timeline)
        {
            switch (ev)
            {
                case WorkloadEvent w:
                    {
                        ulong accesses = w.AccessCount(granule);
                        ulong span = w.SizeBytes;
                        if (w.Pattern == WorkloadPattern.Trace && w.Trace is { Count: > 0 } trace)
                        {
                            ulong low = trace.Min(t => t.Ipa), high = trace.Max(t => t.Ipa);
                            span = high - low + granule.PageSize;
                            items.Add(new MemoryItem($"{trace.Count:N0} trace accesses", ev.Where, Saturating.Multiply((ulong)trace.Count, TraceEntryBytes)));
                        }
                        ulong tables = Saturating.Multiply(FullTables(granule, span, accesses), tablePageBytes);
                        if (tables > 0)
                            items.Add(new MemoryItem($"page tables for at most {accesses:N0} faults over {SizeText.Format(span)}", ev.Where, tables));
                        break;
                    }
                case DirtyLogEvent { Enable: true } d when s.Vm.EagerSplitChunkBytes != 0:
                    {
                        // kvm_mmu_split_memory_region: eager splitting turns every block of the slot into pages.
                        if (firstById.GetValueOrDefault(d.SlotId) is { } slot)
                            items.Add(new MemoryItem($"page tables for splitting slot {slot.Id} ({SizeText.Format(slot.SizeBytes)}) into pages (eager split)", ev.Where, Saturating.Multiply(FullTables(granule, slot.SizeBytes, ulong.MaxValue), tablePageBytes)));
                        break;
                    }
            }
        }

        // Every timeline event is a phase with its own results, under every policy, all kept until the output.
        if (s.Timeline.Count > 0)
        {
            int policies = Math.Max(1, runs);
            ulong phases = Saturating.Multiply((ulong)s.Timeline.Count, (ulong)policies);
            items.Add(new MemoryItem($"the results of {s.Timeline.Count:N0} timeline events under {policies} {(policies > 1 ? "policies" : "policy")} (a phase each)", s.Timeline[0].Where, Saturating.Multiply(phases, PhaseResultBytes)));
        }

        // kvm_alloc_dirty_bitmap: one bit per page of a logging slot (twice with the checker, which keeps its
        // own record of the pages written).
        var logged = new HashSet<int>();
        foreach (TimelineEvent ev in s.Timeline)
        {
            if (ev is DirtyLogEvent { Enable: true } d)
                logged.Add(d.SlotId);
        }
        foreach (MemslotSpec slot in slots)
        {
            if ((slot.Flags & MemslotFlags.LogDirtyPages) == 0 && !logged.Contains(slot.Id))
                continue;
            ulong pages = slot.SizeBytes >> granule.PageShift;
            ulong bytes = Saturating.Multiply((pages + 63) / 64 * 8, check ? 2UL : 1UL);
            items.Add(new MemoryItem($"the dirty bitmap of slot {slot.Id} ({pages:N0} pages)", slot.Where, bytes));
        }

        ulong total = BaseBytes;
        foreach (MemoryItem item in items)
            total = Saturating.Add(total, item.Bytes);
        (ulong visits, TimelineEvent? passedAt) = WalkVisits(s, maxPagesById, allSlotPages, creationPages);
        return new MemoryEstimate(policy, total, items)
        {
            PagesMappedAtCreation = creationPages,
            LargestCreation = largestCreation,
            WalkVisits = visits,
            WalkLimitPassedAt = passedAt,
        };
    }

    /// <summary>
    /// An upper bound of the entries the timeline's range events visit. A walk of a range visits at most the
    /// leaves in it, which are no more than its pages and no more than the run can have made (one per access, the
    /// pages mapped at creation, and every page of a slot eager splitting may break up): dirty-log enable
    /// (kvm_mmu_wp_memory_region), age (kvm_age_gfn), zap and munmap (kvm_unmap_gfn_range from the MMU
    /// notifiers), slot move and delete (kvm_arch_flush_shadow_memslot). A harvest (kvm_get_dirty_log_protect,
    /// kvm_clear_dirty_log_protect) reads the slot's bitmap, a word per 64 pages.
    /// </summary>
    private static (ulong Visits, TimelineEvent? PassedAt) WalkVisits(Scenario s, Dictionary<int, ulong> maxPagesById, ulong allSlotPages, ulong creationPages)
    {
        Granule granule = s.Host.PageSize;
        ulong accesses = 0;
        foreach (TimelineEvent ev in s.Timeline)
        {
            accesses = Saturating.Add(accesses, ev switch
            {
                WorkloadEvent w => w.AccessCount(granule),
                AccessEvent => 1,
                _ => 0,
            });
        }
        ulong leaves = s.Vm.EagerSplitChunkBytes != 0 ? allSlotPages : Math.Min(allSlotPages, Saturating.Add(accesses, creationPages));
        ulong SlotPages(int id) => maxPagesById.GetValueOrDefault(id);

        ulong visits = 0;
        TimelineEvent? passedAt = null;
        foreach (TimelineEvent ev in s.Timeline)
        {
            ulong walk = ev switch
            {
                DirtyLogEvent { Enable: true } d => Math.Min(SlotPages(d.SlotId), leaves),
                GetDirtyLogEvent g => SlotPages(g.SlotId) / 64 + 1,
                ClearDirtyLogEvent c => c.NumPages / 64 + 1,
                UnmapEvent u => Math.Min(u.SizeBytes >> granule.PageShift, leaves),
                AgeEvent a => Math.Min(a.SizeBytes >> granule.PageShift, leaves),
                SlotMoveEvent m => Math.Min(SlotPages(m.SlotId), leaves),
                SlotDeleteEvent d => Math.Min(SlotPages(d.SlotId), leaves),
                _ => 0,
            };
            visits = Saturating.Add(visits, walk);
            if (passedAt is null && visits > ScenarioLimits.MaxWalkVisitsPerRun)
                passedAt = ev;
        }
        return (visits, passedAt);
    }

    /// <summary>
    /// Refuses (a <see cref="ScenarioException"/> at the largest part) a run whose estimate, under any of the
    /// policies, is above <paramref name="limitBytes"/>.
    /// </summary>
    public static void EnsureFits(Scenario s, IEnumerable<string> policies, bool check, ulong limitBytes, string howToRaise)
    {
        MemoryEstimate? worst = null;
        IReadOnlyCollection<string> all = [.. policies];
        foreach (string policy in all)
        {
            MemoryEstimate e = Estimate(s, policy, check, all.Count);
            if (worst is null || e.TotalBytes > worst.TotalBytes)
                worst = e;
            if (e.PagesMappedAtCreation > ScenarioLimits.MaxPagesMappedAtCreation)
            {
                SourceSpan at = e.LargestCreation!.Where;
                throw new ScenarioException([new ScenarioError(s.SourceFile, at.Line, at.Column, at.Path,
                    $"under {policy} slot creation{(HasMoves(s) ? " and the slot moves" : "")} would map {e.PagesMappedAtCreation:N0} VM_PFNMAP pages one at a time (kvm_phys_addr_ioremap), above the limit of {ScenarioLimits.MaxPagesMappedAtCreation:N0} per run (about 1 s per 10^8 pages, and each move maps them all again); use a smaller VM_PFNMAP mapping or slot, fewer slot moves, or leave v5.9/v5.13 out of the policies")]);
            }
            if (e.WalkLimitPassedAt is { } passed)
            {
                throw new ScenarioException([new ScenarioError(s.SourceFile, passed.Where.Line, passed.Where.Column, passed.Where.Path,
                    $"here the range events (dirty-log, age, zap, munmap, get-dirty-log, slot moves and deletes) pass the limit of {ScenarioLimits.MaxWalkVisitsPerRun:N0} stage-2 entries walked per run under {policy} (about 1.6 s per 10^9; the whole timeline would walk up to {e.WalkVisits:N0}); use fewer such events or smaller ranges")]);
            }
        }
        if (worst is null || worst.TotalBytes <= limitBytes)
            return;
        MemoryItem? largest = worst.Largest;
        SourceSpan where = largest?.Where ?? default;
        string biggest = largest is null ? "" : $"; the most is {Approximate(largest.Bytes)} of {largest.What}";
        string lower = worst.Policy is "v5.9" or "v5.13" && largest?.What.Contains("slot creation", StringComparison.Ordinal) == true
            ? "lower it (a smaller VM_PFNMAP mapping or slot, or leave v5.9/v5.13 out of the policies)"
            : largest?.What.Contains("timeline events", StringComparison.Ordinal) == true
                ? "lower it (fewer timeline events: a workload plays many accesses as one event; or fewer policies)"
                : "lower it (smaller ranges, fewer accesses, fewer logging slots)";
        throw new ScenarioException([new ScenarioError(s.SourceFile, where.Line, where.Column, where.Path,
            $"this run would need about {Approximate(worst.TotalBytes)} of memory under {worst.Policy}{biggest}; the limit is {Approximate(limitBytes)}: {lower}, or {howToRaise}")]);
    }

    private static bool HasMoves(Scenario s) => s.Timeline.Exists(ev => ev is SlotMoveEvent);

    /// <summary>A size to three significant figures in binary units: "33.1 GiB".</summary>
    public static string Approximate(ulong bytes)
    {
        ReadOnlySpan<string> units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        string format = unit == 0 || value >= 100 ? "0" : value >= 10 ? "0.0" : "0.00";
        return value.ToString(format, System.Globalization.CultureInfo.InvariantCulture) + " " + units[unit];
    }

    /// <summary>Bytes of the slot's HVA range that <paramref name="pfnMaps"/> (the VM_PFNMAP VMAs of mmap time) back.</summary>
    private static ulong PfnMapBytes(VmaSpec[] pfnMaps, MemslotSpec slot)
    {
        ulong total = 0;
        ulong end = Saturating.Add(slot.Hva, slot.SizeBytes);
        foreach (VmaSpec vma in pfnMaps)
        {
            ulong vmaEnd = Saturating.Add(vma.Start, vma.SizeBytes);
            ulong from = Math.Max(slot.Hva, vma.Start), to = Math.Min(end, vmaEnd);
            if (to > from)
                total = Saturating.Add(total, to - from);
        }
        return total;
    }

    /// <summary>
    /// Table pages below the root that mapping <paramref name="rangeBytes"/> page by page needs, each level
    /// capped at <paramref name="faults"/> (one fault allocates at most one table page per level).
    /// </summary>
    private static ulong FullTables(Granule granule, ulong rangeBytes, ulong faults)
    {
        if (rangeBytes == 0 || faults == 0)
            return 0;
        ulong tables = 0;
        for (int level = 1; level <= Granule.LastLevel; level++)
        {
            // A table at this level covers one entry of the level above; +1 for a range not aligned to it.
            ulong span = granule.LevelSize(level - 1);
            ulong needed = rangeBytes / span + 1;
            tables = Saturating.Add(tables, Math.Min(needed, faults));
        }
        return tables;
    }

    private static class Saturating
    {
        public static ulong Add(ulong a, ulong b) => a > ulong.MaxValue - b ? ulong.MaxValue : a + b;

        public static ulong Multiply(ulong a, ulong b) => b != 0 && a > ulong.MaxValue / b ? ulong.MaxValue : a * b;
    }
}
