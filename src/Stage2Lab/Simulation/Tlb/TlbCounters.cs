using System.Runtime.CompilerServices;

namespace Stage2Lab.Simulation.Tlb;

/// <summary>
/// What the guest's TLBs and walker did. Names follow gem5's Arm MMU statistics (src/arch/arm/tlb.hh TlbStats:
/// instHits, readHits, writeMisses, partialHits, inserts, flushTlb, flushedEntries; table_walker.hh
/// TableWalkerStats: walks, walksLongTerminatedAtLevel, pageSizes), grouped as gem5 names its objects: itb, dtb,
/// l2_shared, stage2_tlb, walker, stage2_walker. The members after <see cref="WalkMemRefs"/> are this model's own.
/// </summary>
public enum TlbStat
{
    ItbInstHits,
    ItbInstMisses,
    ItbInserts,
    ItbFlushTlb,
    ItbFlushedEntries,

    DtbReadHits,
    DtbReadMisses,
    DtbWriteHits,
    DtbWriteMisses,
    DtbInserts,
    DtbFlushTlb,
    DtbFlushedEntries,

    L2InstHits,
    L2InstMisses,
    L2ReadHits,
    L2ReadMisses,
    L2WriteHits,
    L2WriteMisses,
    /// <summary>Stage-1 walk-cache hits: a walk that started below the root.</summary>
    L2PartialHits,
    L2Inserts,
    L2FlushTlb,
    L2FlushedEntries,

    /// <summary>Stage-2 (IPA→PA) lookups during walks, for table addresses and the final IPA.</summary>
    Stage2Hits,
    Stage2Misses,
    /// <summary>Stage-2 walk-cache hits: a stage-2 walk that started below the stage-2 root.</summary>
    Stage2PartialHits,
    Stage2Inserts,

    /// <summary>Nested walks (L2 misses of a mapped VA).</summary>
    Walks,
    WalksTerminatedAtLevel0,
    WalksTerminatedAtLevel1,
    WalksTerminatedAtLevel2,
    WalksTerminatedAtLevel3,
    /// <summary>Size of the combined entry each walk produced (before any split into the L1/L2).</summary>
    PageSize4K,
    PageSize16K,
    PageSize64K,
    PageSize2M,
    PageSize32M,
    PageSize512M,
    PageSize1G,
    PageSize16G,

    /// <summary>Stage-2 walks (a stage-2 translation the TLB could not answer), by the level of the leaf.</summary>
    Stage2Walks,
    Stage2WalksTerminatedAtLevel0,
    Stage2WalksTerminatedAtLevel1,
    Stage2WalksTerminatedAtLevel2,
    Stage2WalksTerminatedAtLevel3,

    /// <summary>Memory references of all walks (stage-1 descriptors and stage-2 descriptors), walk caches used.</summary>
    WalkMemRefs,
    /// <summary>What the same walks would have read with no walk cache and no stage-2 entries: (n+1)(m+1)-1 each,
    /// with m the depth of the real stage-2 leaf at every address.</summary>
    WalkMemRefsWithoutCaches,
    /// <summary>Accesses to a VA no guest region maps (the guest's own page fault; not walked).</summary>
    Stage1Faults,
    /// <summary>Walks whose final IPA had no stage-2 leaf (no entry is filled).</summary>
    Stage2FaultWalks,
    /// <summary>Stage-1 table reads whose IPA had no stage-2 leaf (counted as a full-depth stage-2 walk).</summary>
    TableIpaUnmapped,
}

[InlineArray(TlbCounters.Count)]
public struct TlbCounterBuffer
{
    private long _element0;
}

/// <summary>A snapshot-able set of <see cref="TlbStat"/> values: a plain value type, so a phase is after - before.</summary>
public struct TlbCounters
{
    public const int Count = (int)TlbStat.TableIpaUnmapped + 1;

    private TlbCounterBuffer _values;

    public long this[TlbStat stat]
    {
        readonly get => _values[(int)stat];
        set => _values[(int)stat] = value;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(TlbStat stat, long amount = 1) => _values[(int)stat] += amount;

    // gem5's formulas: hits, misses, accesses per TLB.
    public readonly long ItbHits => this[TlbStat.ItbInstHits];
    public readonly long ItbMisses => this[TlbStat.ItbInstMisses];
    public readonly long DtbHits => this[TlbStat.DtbReadHits] + this[TlbStat.DtbWriteHits];
    public readonly long DtbMisses => this[TlbStat.DtbReadMisses] + this[TlbStat.DtbWriteMisses];
    public readonly long L2Hits => this[TlbStat.L2InstHits] + this[TlbStat.L2ReadHits] + this[TlbStat.L2WriteHits];
    public readonly long L2Misses => this[TlbStat.L2InstMisses] + this[TlbStat.L2ReadMisses] + this[TlbStat.L2WriteMisses];
    public readonly long L2Accesses => L2Hits + L2Misses;

    /// <summary>Guest accesses seen (L1 hits plus L1 misses).</summary>
    public readonly long Accesses => ItbHits + ItbMisses + DtbHits + DtbMisses;

    /// <summary>Memory references per walk, walk caches used (0 with no walk).</summary>
    public readonly double MemRefsPerWalk => Per(this[TlbStat.WalkMemRefs], this[TlbStat.Walks]);

    /// <summary>Memory references per walk with no walk cache.</summary>
    public readonly double MemRefsPerWalkWithoutCaches => Per(this[TlbStat.WalkMemRefsWithoutCaches], this[TlbStat.Walks]);

    public readonly long PageSizeCount(int sizeShift) => PageSizeStat(sizeShift) is { } s ? this[s] : 0;

    /// <summary>log2 of the size a pageSizes bucket counts (the inverse of <see cref="PageSizeStat"/>).</summary>
    public static int SizeShift(TlbStat pageSize) => pageSize switch
    {
        TlbStat.PageSize4K => 12,
        TlbStat.PageSize16K => 14,
        TlbStat.PageSize64K => 16,
        TlbStat.PageSize2M => 21,
        TlbStat.PageSize32M => 25,
        TlbStat.PageSize512M => 29,
        TlbStat.PageSize1G => 30,
        TlbStat.PageSize16G => 34,
        _ => throw new ArgumentOutOfRangeException(nameof(pageSize), pageSize, "not a pageSizes bucket"),
    };

    /// <summary>The pageSizes bucket for an entry of 2^<paramref name="sizeShift"/> bytes.</summary>
    public static TlbStat? PageSizeStat(int sizeShift) => sizeShift switch
    {
        12 => TlbStat.PageSize4K,
        14 => TlbStat.PageSize16K,
        16 => TlbStat.PageSize64K,
        21 => TlbStat.PageSize2M,
        25 => TlbStat.PageSize32M,
        29 => TlbStat.PageSize512M,
        30 => TlbStat.PageSize1G,
        34 => TlbStat.PageSize16G,
        _ => null,
    };

    public static TlbCounters operator -(TlbCounters after, TlbCounters before)
    {
        TlbCounters diff = default;
        for (int i = 0; i < Count; i++)
            diff._values[i] = after._values[i] - before._values[i];
        return diff;
    }

    public static TlbCounters operator +(TlbCounters a, TlbCounters b)
    {
        TlbCounters sum = default;
        for (int i = 0; i < Count; i++)
            sum._values[i] = a._values[i] + b._values[i];
        return sum;
    }

    public readonly bool IsZero
    {
        get
        {
            for (int i = 0; i < Count; i++)
            {
                if (_values[i] != 0)
                    return false;
            }
            return true;
        }
    }

    private static double Per(long total, long count) => count == 0 ? 0 : (double)total / count;
}

/// <summary>The name each <see cref="TlbStat"/> is reported under (gem5's object.stat form).</summary>
public static class TlbStatNames
{
    private static readonly string[] Names = Build();

    public static string Name(this TlbStat stat) => Names[(int)stat];

    /// <summary>Every statistic in report order.</summary>
    public static IReadOnlyList<TlbStat> All { get; } = Enum.GetValues<TlbStat>();

    private static string[] Build()
    {
        var names = new string[TlbCounters.Count];
        foreach (TlbStat s in Enum.GetValues<TlbStat>())
        {
            names[(int)s] = s switch
            {
                TlbStat.ItbInstHits => "itb.instHits",
                TlbStat.ItbInstMisses => "itb.instMisses",
                TlbStat.ItbInserts => "itb.inserts",
                TlbStat.ItbFlushTlb => "itb.flushTlb",
                TlbStat.ItbFlushedEntries => "itb.flushedEntries",
                TlbStat.DtbReadHits => "dtb.readHits",
                TlbStat.DtbReadMisses => "dtb.readMisses",
                TlbStat.DtbWriteHits => "dtb.writeHits",
                TlbStat.DtbWriteMisses => "dtb.writeMisses",
                TlbStat.DtbInserts => "dtb.inserts",
                TlbStat.DtbFlushTlb => "dtb.flushTlb",
                TlbStat.DtbFlushedEntries => "dtb.flushedEntries",
                TlbStat.L2InstHits => "l2_shared.instHits",
                TlbStat.L2InstMisses => "l2_shared.instMisses",
                TlbStat.L2ReadHits => "l2_shared.readHits",
                TlbStat.L2ReadMisses => "l2_shared.readMisses",
                TlbStat.L2WriteHits => "l2_shared.writeHits",
                TlbStat.L2WriteMisses => "l2_shared.writeMisses",
                TlbStat.L2PartialHits => "l2_shared.partialHits",
                TlbStat.L2Inserts => "l2_shared.inserts",
                TlbStat.L2FlushTlb => "l2_shared.flushTlb",
                TlbStat.L2FlushedEntries => "l2_shared.flushedEntries",
                TlbStat.Stage2Hits => "stage2_tlb.hits",
                TlbStat.Stage2Misses => "stage2_tlb.misses",
                TlbStat.Stage2PartialHits => "stage2_tlb.partialHits",
                TlbStat.Stage2Inserts => "stage2_tlb.inserts",
                TlbStat.Walks => "walker.walks",
                >= TlbStat.WalksTerminatedAtLevel0 and <= TlbStat.WalksTerminatedAtLevel3 =>
                    $"walker.walksLongTerminatedAtLevel::Level{s - TlbStat.WalksTerminatedAtLevel0}",
                TlbStat.PageSize4K => "walker.pageSizes::4KiB",
                TlbStat.PageSize16K => "walker.pageSizes::16KiB",
                TlbStat.PageSize64K => "walker.pageSizes::64KiB",
                TlbStat.PageSize2M => "walker.pageSizes::2MiB",
                TlbStat.PageSize32M => "walker.pageSizes::32MiB",
                TlbStat.PageSize512M => "walker.pageSizes::512MiB",
                TlbStat.PageSize1G => "walker.pageSizes::1GiB",
                TlbStat.PageSize16G => "walker.pageSizes::16GiB",
                TlbStat.Stage2Walks => "stage2_walker.walks",
                >= TlbStat.Stage2WalksTerminatedAtLevel0 and <= TlbStat.Stage2WalksTerminatedAtLevel3 =>
                    $"stage2_walker.walksLongTerminatedAtLevel::Level{s - TlbStat.Stage2WalksTerminatedAtLevel0}",
                TlbStat.WalkMemRefs => "walker.memRefs",
                TlbStat.WalkMemRefsWithoutCaches => "walker.memRefsWithoutWalkCache",
                TlbStat.Stage1Faults => "walker.stage1Faults",
                TlbStat.Stage2FaultWalks => "walker.stage2Faults",
                TlbStat.TableIpaUnmapped => "walker.tableIpaUnmapped",
                _ => throw new InvalidOperationException($"no name for {s}"),
            };
        }
        return names;
    }
}
