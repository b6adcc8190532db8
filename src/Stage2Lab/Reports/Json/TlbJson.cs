using Stage2Lab.Simulation.Tlb;

namespace Stage2Lab.Reports;

// The guest TLB model's part of stage2lab.result (docs/tlb-model.md, docs/output-format.md): absent with --tlb off.
// Objects and keys are gem5's Arm MMU statistics (src/arch/arm/tlb.hh TlbStats, table_walker.hh TableWalkerStats),
// camelCased as every key of the document: gem5's l2_shared is l2Shared, stage2_tlb stage2Tlb, pageSizes::4KiB the
// pageSizes entry of sizeBytes 4096.

/// <summary>The run's guest TLB model: the profile, its cost assumptions, and the counts of the whole run.</summary>
public sealed class TlbRunJson
{
    /// <summary>neoverse-n1 or simple (TlbProfiles).</summary>
    public required string Profile { get; init; }

    public required string Description { get; init; }

    /// <summary>Cycles per L2 TLB lookup (charged per L1 miss).</summary>
    public required double L2LookupCycles { get; init; }

    /// <summary>Cycles per walk memory reference (an assumption; docs/tlb-model.md).</summary>
    public required double WalkReferenceCycles { get; init; }

    /// <summary>Core clock the cycles are turned into time with (an assumption).</summary>
    public required double ClockGhz { get; init; }

    public required TlbCountsJson Totals { get; init; }
}

/// <summary>What the guest's TLBs and walker did in a phase (or a run).</summary>
public sealed class TlbCountsJson
{
    /// <summary>Guest accesses seen (L1 hits plus misses; L2-guest accesses are not counted).</summary>
    public required long Accesses { get; init; }

    public required TlbArrayJson Itb { get; init; }

    public required TlbArrayJson Dtb { get; init; }

    /// <summary>The unified L2 (lookups of VA→PA entries; partialHits: stage-1 walk-cache hits).</summary>
    public required TlbArrayJson L2Shared { get; init; }

    /// <summary>Stage-2 lookups during walks (IPA→PA entries in the L2; partialHits: stage-2 walk cache).</summary>
    public required Stage2TlbJson Stage2Tlb { get; init; }

    public required WalkerJson Walker { get; init; }

    public required Stage2WalkerJson Stage2Walker { get; init; }

    /// <summary>Estimated guest translation time, integer nanoseconds (the profile's costs).</summary>
    public required long EstimatedGuestNs { get; init; }

    public static TlbCountsJson Of(in TlbCounters c, double estimatedNs) => new()
    {
        Accesses = c.Accesses,
        Itb = new TlbArrayJson
        {
            Hits = c.ItbHits,
            Misses = c.ItbMisses,
            Accesses = c.ItbHits + c.ItbMisses,
            InstHits = c[TlbStat.ItbInstHits],
            InstMisses = c[TlbStat.ItbInstMisses],
            Inserts = c[TlbStat.ItbInserts],
            FlushTlb = c[TlbStat.ItbFlushTlb],
            FlushedEntries = c[TlbStat.ItbFlushedEntries],
        },
        Dtb = new TlbArrayJson
        {
            Hits = c.DtbHits,
            Misses = c.DtbMisses,
            Accesses = c.DtbHits + c.DtbMisses,
            ReadHits = c[TlbStat.DtbReadHits],
            ReadMisses = c[TlbStat.DtbReadMisses],
            WriteHits = c[TlbStat.DtbWriteHits],
            WriteMisses = c[TlbStat.DtbWriteMisses],
            Inserts = c[TlbStat.DtbInserts],
            FlushTlb = c[TlbStat.DtbFlushTlb],
            FlushedEntries = c[TlbStat.DtbFlushedEntries],
        },
        L2Shared = new TlbArrayJson
        {
            Hits = c.L2Hits,
            Misses = c.L2Misses,
            Accesses = c.L2Accesses,
            InstHits = c[TlbStat.L2InstHits],
            InstMisses = c[TlbStat.L2InstMisses],
            ReadHits = c[TlbStat.L2ReadHits],
            ReadMisses = c[TlbStat.L2ReadMisses],
            WriteHits = c[TlbStat.L2WriteHits],
            WriteMisses = c[TlbStat.L2WriteMisses],
            PartialHits = c[TlbStat.L2PartialHits],
            Inserts = c[TlbStat.L2Inserts],
            FlushTlb = c[TlbStat.L2FlushTlb],
            FlushedEntries = c[TlbStat.L2FlushedEntries],
        },
        Stage2Tlb = new Stage2TlbJson
        {
            Hits = c[TlbStat.Stage2Hits],
            Misses = c[TlbStat.Stage2Misses],
            Accesses = c[TlbStat.Stage2Hits] + c[TlbStat.Stage2Misses],
            PartialHits = c[TlbStat.Stage2PartialHits],
            Inserts = c[TlbStat.Stage2Inserts],
        },
        Walker = new WalkerJson
        {
            Walks = c[TlbStat.Walks],
            WalksLongTerminatedAtLevel = Levels(c, TlbStat.WalksTerminatedAtLevel0),
            PageSizes = PageSizes(c),
            MemRefs = c[TlbStat.WalkMemRefs],
            MemRefsWithoutWalkCache = c[TlbStat.WalkMemRefsWithoutCaches],
            Stage1Faults = c[TlbStat.Stage1Faults],
            Stage2Faults = c[TlbStat.Stage2FaultWalks],
            TableIpaUnmapped = c[TlbStat.TableIpaUnmapped],
        },
        Stage2Walker = new Stage2WalkerJson
        {
            Walks = c[TlbStat.Stage2Walks],
            WalksLongTerminatedAtLevel = Levels(c, TlbStat.Stage2WalksTerminatedAtLevel0),
        },
        EstimatedGuestNs = JsonReport.Ns(estimatedNs),
    };

    private static PageSizeJson[] PageSizes(in TlbCounters c)
    {
        var sizes = new PageSizeJson[TlbTables.PageSizeStats.Count];
        for (int i = 0; i < sizes.Length; i++)
        {
            TlbStat bucket = TlbTables.PageSizeStats[i];
            sizes[i] = new PageSizeJson { SizeBytes = 1L << TlbCounters.SizeShift(bucket), Walks = c[bucket] };
        }
        return sizes;
    }

    private static LevelsJson Levels(in TlbCounters c, TlbStat level0) =>
        new() { L0 = c[level0], L1 = c[level0 + 1], L2 = c[level0 + 2], L3 = c[level0 + 3] };
}

/// <summary>One TLB's lookups (gem5 TlbStats): hits, misses and accesses are gem5's formulas over the rest.</summary>
public sealed class TlbArrayJson
{
    public required long Hits { get; init; }

    public required long Misses { get; init; }

    public required long Accesses { get; init; }

    public long InstHits { get; init; }

    public long InstMisses { get; init; }

    public long ReadHits { get; init; }

    public long ReadMisses { get; init; }

    public long WriteHits { get; init; }

    public long WriteMisses { get; init; }

    /// <summary>Walk-cache hits (a walk resumed below the root); 0 for the L1s.</summary>
    public long PartialHits { get; init; }

    public required long Inserts { get; init; }

    /// <summary>Invalidations received.</summary>
    public required long FlushTlb { get; init; }

    /// <summary>Entries those invalidations removed.</summary>
    public required long FlushedEntries { get; init; }
}

public sealed class Stage2TlbJson
{
    public required long Hits { get; init; }

    public required long Misses { get; init; }

    public required long Accesses { get; init; }

    public required long PartialHits { get; init; }

    public required long Inserts { get; init; }
}

/// <summary>The nested walks (L2 misses of a mapped VA).</summary>
public sealed class WalkerJson
{
    public required long Walks { get; init; }

    /// <summary>Walks by the level of the stage-1 leaf.</summary>
    public required LevelsJson WalksLongTerminatedAtLevel { get; init; }

    /// <summary>Size of the combined entry each walk produced (before any split into the L1/L2).</summary>
    public required IReadOnlyList<PageSizeJson> PageSizes { get; init; }

    /// <summary>Descriptor reads of all walks, walk caches used (memRefs / walks: references per walk).</summary>
    public required long MemRefs { get; init; }

    /// <summary>What the same walks would have read with no walk cache: (n+1)(m+1)-1 each.</summary>
    public required long MemRefsWithoutWalkCache { get; init; }

    /// <summary>Accesses to a VA no guest region maps (not walked).</summary>
    public required long Stage1Faults { get; init; }

    /// <summary>Walks whose final IPA had no stage-2 leaf.</summary>
    public required long Stage2Faults { get; init; }

    /// <summary>Stage-1 table reads whose IPA had no stage-2 leaf (charged a full-depth stage-2 walk).</summary>
    public required long TableIpaUnmapped { get; init; }
}

/// <summary>One of gem5's walker.pageSizes buckets: walks that produced an entry of this size.</summary>
public sealed class PageSizeJson
{
    public required long SizeBytes { get; init; }

    public required long Walks { get; init; }
}

/// <summary>Stage-2 walks that read memory (a stage-2 translation the TLB could not answer).</summary>
public sealed class Stage2WalkerJson
{
    public required long Walks { get; init; }

    public required LevelsJson WalksLongTerminatedAtLevel { get; init; }
}
