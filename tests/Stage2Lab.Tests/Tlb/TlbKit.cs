using Stage2Lab.Arch;
using Stage2Lab.PageTables;
using Stage2Lab.Simulation.Tlb;

namespace Stage2Lab.Tests.Tlb;

/// <summary>Builds the stage-2 tables, guests and models the TLB tests reason about by hand.</summary>
internal static class TlbKit
{
    public const ulong K = 1UL << 10, M = 1UL << 20, G = 1UL << 30;

    /// <summary>Guest RAM in every test: IPA (and, unless said otherwise, VA) 1 GiB.</summary>
    public const ulong RamIpa = G;

    /// <summary>The N1 profile with nothing but the L1s and the L2's VA→PA entries: the reach steps of pure
    /// 48-entry fully associative and 1280-entry 5-way LRU arrays.</summary>
    public static readonly TlbProfile N1WithoutWalkCaches = TlbProfiles.NeoverseN1 with
    {
        Name = "n1-no-walk-cache",
        Stage1WalkCache = false,
        Stage2WalkCache = false,
        Stage2LeafSizeShifts = 0,
    };

    /// <summary>A stage-2 table mapping [ipa, ipa+size) to PA = ipa + 0x100_0000_0000 with leaves of exactly
    /// <paramref name="leafSize"/> (one map call per leaf, as a fault per leaf would).</summary>
    public static Stage2PageTable Stage2(int ipaBits, ulong ipa, ulong sizeBytes, ulong leafSize, string granule = "4K", bool rangeTlbi = false, bool fwb = false)
    {
        Granule.TryParse(granule, out Granule g);
        var pgt = new Stage2PageTable(g, ipaBits, new CpuFeatures(fwb, true, rangeTlbi));
        MapLeaves(pgt, ipa, sizeBytes, leafSize);
        return pgt;
    }

    public static void MapLeaves(Stage2PageTable pgt, ulong ipa, ulong sizeBytes, ulong leafSize)
    {
        var cache = MemoryCache.Unbounded();
        for (ulong off = 0; off < sizeBytes; off += leafSize)
        {
            int ret = pgt.Map(ipa + off, leafSize, (ipa + off) & ((1UL << 40) - 1) | (1UL << 40), Prot.RWX, cache);
            Assert.True(ret == 0, $"map 0x{ipa + off:x}: {Errno.Name(ret)}");
        }
    }

    /// <summary>One guest region at VA = IPA, its tables right after it.</summary>
    public static GuestStage1 Guest(ulong ipa, ulong sizeBytes, GuestMapping mapping, int ipaBits, int vaBits = 48, string granule = "4K", ulong? tablesIpa = null)
    {
        Granule.TryParse(granule, out Granule g);
        return GuestStage1.Create(g, vaBits, [new GuestRegion("ram", ipa, ipa, sizeBytes, mapping)], tablesIpa ?? ipa + sizeBytes, ipaBits);
    }

    /// <summary>Walks and memory references of a phase.</summary>
    public static (long Walks, long Refs, long RefsWithoutCaches) WalkFigures(TlbCounters c) =>
        (c[TlbStat.Walks], c[TlbStat.WalkMemRefs], c[TlbStat.WalkMemRefsWithoutCaches]);

    /// <summary>Reads every address once, in order, and returns what that round cost.</summary>
    public static TlbCounters Round(GuestTlbModel model, IReadOnlyList<ulong> vas, AccessKind kind = AccessKind.Read)
    {
        TlbCounters before = model.Counters;
        foreach (ulong va in vas)
            model.OnAccess(va, kind);
        return model.Counters - before;
    }

    public static ulong[] Pages(ulong start, int count, ulong pageSize)
    {
        var vas = new ulong[count];
        for (int i = 0; i < count; i++)
            vas[i] = start + (ulong)i * pageSize;
        return vas;
    }

    /// <summary>The entries of one array, as "kind@start/size" strings sorted, for exact comparisons.</summary>
    public static List<string> EntriesOf(GuestTlbModel model, string array) =>
        model.Entries().Where(e => e.Array == array)
            .Select(e => $"{e.Kind}@0x{e.Start:x}/{SizeText.Format(e.SizeBytes)}")
            .Order(StringComparer.Ordinal).ToList();
}
