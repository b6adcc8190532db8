namespace Stage2Lab.Simulation.Tlb;

/// <summary>The shape of one TLB array: entries, ways (entries == ways: fully associative) and the entry sizes it
/// holds, as a bit mask of log2(size) (bit 12 = 4K, bit 21 = 2M, ...).</summary>
public sealed record TlbArrayShape(string Name, int Entries, int Ways, ulong HeldSizeShifts)
{
    public int Sets => Entries / Ways;

    public bool Holds(int sizeShift) => (HeldSizeShifts >> sizeShift & 1) != 0;

    /// <summary>The largest size this array holds that is not larger than 2^<paramref name="sizeShift"/> (an entry
    /// larger than any it holds is split to the part around the access), or -1 when none is.</summary>
    public int FitShift(int sizeShift)
    {
        ulong mask = sizeShift >= 63 ? HeldSizeShifts : HeldSizeShifts & ((2UL << sizeShift) - 1);
        return mask == 0 ? -1 : 63 - System.Numerics.BitOperations.LeadingZeroCount(mask);
    }
}

/// <summary>
/// A TLB hierarchy: L1 instruction and data TLBs, a unified L2 that also holds walk-cache and stage-2 entries,
/// and the costs the estimate uses. Every number's source is in docs/tlb-model.md.
/// </summary>
public sealed record TlbProfile(
    string Name,
    string Description,
    TlbArrayShape L1Instruction,
    TlbArrayShape L1Data,
    TlbArrayShape L2,
    /// <summary>The L2 keeps stage-1 table descriptors (VA prefix → next table's PA) met on walks.</summary>
    bool Stage1WalkCache,
    /// <summary>The L2 keeps stage-2 table descriptors (IPA prefix → next stage-2 table) met on walks.</summary>
    bool Stage2WalkCache,
    /// <summary>Stage-2 leaf sizes the L2 keeps as IPA→PA entries (bit mask of log2(size)); 0: none.</summary>
    ulong Stage2LeafSizeShifts,
    /// <summary>Cycles an L2 lookup costs (hit or miss): charged per L1 miss.</summary>
    double L2LookupCycles,
    /// <summary>Cycles one walk memory reference (a descriptor read) costs on average.</summary>
    double WalkReferenceCycles,
    /// <summary>Core clock, to turn cycles into time.</summary>
    double ClockGhz)
{
    /// <summary>Estimated time the guest spends translating, for counts of one phase.</summary>
    public double EstimateNs(in TlbCounters c) =>
        (c.L2Accesses * L2LookupCycles + c[TlbStat.WalkMemRefs] * WalkReferenceCycles) / ClockGhz;
}

/// <summary>The named TLB profiles.</summary>
public static class TlbProfiles
{
    private const ulong K4 = 1UL << 12, K16 = 1UL << 14, K64 = 1UL << 16, M2 = 1UL << 21, M32 = 1UL << 25, M512 = 1UL << 29, G1 = 1UL << 30;

    /// <summary>Every size from 4K to 16G: a teaching TLB with no size restrictions.</summary>
    private const ulong AllSizes = (1UL << 35) - K4;

    /// <summary>
    /// Neoverse N1 (a Cortex-A76-class MMU). Cortex-A76 TRM (100798_0300), A5.1 Table A5-1 and A5.2: L1 ITLB 48
    /// entries fully associative holding 4K/16K/64K/2M/32M; L1 DTLB 48 entries fully associative holding
    /// 4K/16K/64K/2M/512M; L2 1280 entries 5-way holding VA→PA of 4K..1G, IPA→PA of 2M/1G (4K granule), 32M (16K),
    /// 512M (64K), and intermediate PAs of walks; an L2 access "usually takes three cycles". Walk-reference cost
    /// and clock are assumptions (docs/tlb-model.md).
    /// </summary>
    public static readonly TlbProfile NeoverseN1 = new(
        "neoverse-n1",
        "Neoverse N1 / Cortex-A76 MMU: 48-entry L1 I/D TLBs, 1280-entry 5-way L2 with walk cache and stage-2 block entries",
        L1Instruction: new("itb", 48, 48, K4 | K16 | K64 | M2 | M32),
        L1Data: new("dtb", 48, 48, K4 | K16 | K64 | M2 | M512),
        L2: new("l2_shared", 1280, 5, K4 | K16 | K64 | M2 | M32 | M512 | G1),
        Stage1WalkCache: true,
        Stage2WalkCache: true,
        Stage2LeafSizeShifts: M2 | M32 | M512 | G1,
        L2LookupCycles: 3,          // TRM A5.2.3: "usually takes three cycles"
        WalkReferenceCycles: 30,    // assumption: descriptor reads mostly hit the 9-11 cycle L2 cache, some go to DRAM
        ClockGhz: 2.5);             // assumption: a 2.5 GHz N1 server part

    /// <summary>
    /// A teaching hierarchy: 16-entry fully associative L1 I/D TLBs and a 256-entry 4-way L2 that hold every size,
    /// no walk caches and no stage-2 entries, so every walk costs exactly (n+1)(m+1)-1 references.
    /// </summary>
    public static readonly TlbProfile Simple = new(
        "simple",
        "Teaching TLB: 16-entry L1 I/D, 256-entry 4-way L2, every size, no walk caches: each walk costs (n+1)(m+1)-1 reads",
        L1Instruction: new("itb", 16, 16, AllSizes),
        L1Data: new("dtb", 16, 16, AllSizes),
        L2: new("l2_shared", 256, 4, AllSizes),
        Stage1WalkCache: false,
        Stage2WalkCache: false,
        Stage2LeafSizeShifts: 0,
        L2LookupCycles: 3,
        WalkReferenceCycles: 30,
        ClockGhz: 2.5);

    public static IReadOnlyList<string> Names { get; } = [NeoverseN1.Name, Simple.Name];

    public static TlbProfile? TryGet(string name) => name switch
    {
        "neoverse-n1" => NeoverseN1,
        "simple" => Simple,
        _ => null,
    };
}
