using Stage2Lab.Arch;
using Stage2Lab.Simulation.Tlb;
using static Stage2Lab.Tests.Tlb.TlbKit;

namespace Stage2Lab.Tests.Tlb;

/// <summary>
/// Memory references of one nested walk, from hand calculation: each of the n stage-1 table reads first
/// translates the table's IPA through m stage-2 levels, and so does the final IPA: n(m+1) + m = (n+1)(m+1)-1
/// (stage2-model.md §7: 24 for 4+4 levels, 19 when stage 2 ends in 2M blocks, 14 with 1G blocks).
/// </summary>
public class NestedWalkReferenceTests
{
    [Theory]
    // guest 4K/48-bit pages (n = 4) on a 48-bit IPA 4K stage 2 (start level 0): m = 4, 3, 2.
    [InlineData(48, 4 * K, 24)]
    [InlineData(48, 2 * M, 19)]
    [InlineData(48, 1 * G, 14)]
    // the same guest on a 40-bit IPA (stage 2 starts at level 1): m = 3, 2, 1.
    [InlineData(40, 4 * K, 19)]
    [InlineData(40, 2 * M, 14)]
    [InlineData(40, 1 * G, 9)]
    public void A_cold_walk_without_walk_caches_reads_n_plus_1_times_m_plus_1_minus_1_descriptors(int ipaBits, ulong s2Leaf, long expected)
    {
        // 1 GiB of RAM at IPA 1G holds the data and the guest's tables (placed at its end), all under one leaf size.
        Stage2Lab.PageTables.Stage2PageTable pgt = s2Leaf == 4 * K
            ? Stage2(ipaBits, RamIpa, 4 * M, 4 * K)
            : Stage2(ipaBits, RamIpa, G, s2Leaf);
        GuestStage1 guest = Guest(RamIpa, 2 * M, GuestMapping.Pages, ipaBits, tablesIpa: RamIpa + 2 * M);
        var model = new GuestTlbModel(TlbProfiles.Simple, guest, pgt);

        model.OnAccess(RamIpa + 0x1234, AccessKind.Read);

        Assert.Equal((1L, expected, expected), WalkFigures(model.Counters));
        Assert.Equal(1, model.Counters[TlbStat.WalksTerminatedAtLevel3]);
    }

    [Theory]
    // n from the guest's granule, VA size and leaf level; m from a 48-bit 4K stage 2 with pages (4) or 2M (3).
    [InlineData("4K", 39, GuestMapping.Pages, 4 * K, 3, 4)]      // 3-level guest: (3+1)(4+1)-1 = 19
    [InlineData("4K", 48, GuestMapping.Thp, 4 * K, 3, 4)]        // 2M guest leaves: the walk stops at level 2: 19
    [InlineData("4K", 48, GuestMapping.Block1G, 2 * M, 2, 3)]    // 1G guest leaves, 2M stage 2: (2+1)(3+1)-1 = 11
    [InlineData("64K", 48, GuestMapping.Pages, 2 * M, 3, 3)]     // 64K/48-bit guest: 3 levels: 15
    [InlineData("64K", 42, GuestMapping.Pages, 4 * K, 2, 4)]     // 64K/42-bit guest: 2 levels: 14
    [InlineData("16K", 47, GuestMapping.Pages, 4 * K, 3, 4)]     // 16K/47-bit guest: 3 levels: 19
    [InlineData("16K", 48, GuestMapping.Pages, 4 * K, 4, 4)]     // 16K/48-bit guest: 4 levels: 24
    public void Other_combinations_follow_the_same_formula(string granule, int vaBits, GuestMapping mapping, ulong s2Leaf, int n, int m)
    {
        Granule.TryParse(granule, out Granule g);
        ulong span = 1UL << mapping.EntryShift(g);
        ulong ram = Math.Max(4 * M, 2 * span);
        var pgt = s2Leaf == 4 * K ? Stage2(48, RamIpa, ram, 4 * K) : Stage2(48, RamIpa, Math.Max(ram, 2 * M), s2Leaf);
        GuestStage1 guest = Guest(RamIpa, span, mapping, 48, vaBits, granule, tablesIpa: RamIpa + span);
        Assert.Equal(n, mapping.LeafLevel() - guest.StartLevel + 1);
        var model = new GuestTlbModel(TlbProfiles.Simple, guest, pgt);

        model.OnAccess(RamIpa + 8, AccessKind.Write);

        long expected = (n + 1) * (m + 1) - 1;
        Assert.Equal((1L, expected, expected), WalkFigures(model.Counters));
    }

    [Fact]
    public void The_neoverse_n1_walk_caches_cut_a_cold_4K_walk_to_13_references_and_the_next_one_to_2()
    {
        // 48-bit IPA, stage 2 of 4K pages. Data at IPA 1G, the guest's 4 tables at 1G+2M (another 2M, same 1G).
        var pgt = Stage2(48, RamIpa, 4 * M, 4 * K);
        GuestStage1 guest = Guest(RamIpa, 2 * M, GuestMapping.Pages, 48, tablesIpa: RamIpa + 2 * M);
        var model = new GuestTlbModel(TlbProfiles.NeoverseN1, guest, pgt);

        // Cold: root table: 4 stage-2 reads + 1; the level-1, -2, -3 tables share the root's stage-2 tables, so
        // the stage-2 walk cache leaves 1 stage-2 read each (+1 each); the final IPA is in another 2M of the same
        // 1G: the level-1 stage-2 descriptor is cached, 2 reads. 5 + 2 + 2 + 2 + 2 = 13 (24 without caches).
        model.OnAccess(RamIpa, AccessKind.Read);
        Assert.Equal((1L, 13L, 24L), WalkFigures(model.Counters));

        // The next page: the level-2 stage-1 descriptor is cached (level-3 table's PA known): 1 read; the final
        // IPA's level-2 stage-2 descriptor is cached: 1 read. 4K stage-2 leaves are not kept (blocks only).
        TlbCounters before = model.Counters;
        model.OnAccess(RamIpa + 4 * K, AccessKind.Read);
        Assert.Equal((1L, 2L, 24L), WalkFigures(model.Counters - before));
    }

    [Fact]
    public void With_2M_stage_2_blocks_the_n1_keeps_ipa_to_pa_entries_and_a_warm_walk_reads_one_descriptor()
    {
        var pgt = Stage2(48, RamIpa, G, 2 * M);
        GuestStage1 guest = Guest(RamIpa, 2 * M, GuestMapping.Pages, 48, tablesIpa: RamIpa + 2 * M);
        var model = new GuestTlbModel(TlbProfiles.NeoverseN1, guest, pgt);

        // Cold: root table: 3 stage-2 reads + 1 (its 2M block is now an IPA->PA entry); level-1..3 tables hit that
        // entry: 1 each; the final IPA (other 2M block) finds the level-1 stage-2 descriptor: 1. 4+1+1+1+1 = 8.
        model.OnAccess(RamIpa, AccessKind.Read);
        Assert.Equal((1L, 8L, 19L), WalkFigures(model.Counters));
        Assert.Equal(2, model.Counters[TlbStat.Stage2Inserts]);

        TlbCounters before = model.Counters;
        model.OnAccess(RamIpa + 4 * K, AccessKind.Read);
        TlbCounters warm = model.Counters - before;
        Assert.Equal((1L, 1L, 19L), WalkFigures(warm));
        Assert.Equal(1, warm[TlbStat.Stage2Hits]);
        Assert.Equal(1, warm[TlbStat.L2PartialHits]);
    }

    [Fact]
    public void The_combined_entry_covers_the_smaller_of_the_stage_1_and_stage_2_leaves()
    {
        // Guest 2M (THP) leaves over 4K stage-2 pages: 4K entries; over 2M blocks: 2M; over 1G blocks: still 2M.
        foreach (var (s2Leaf, expected) in new[] { (4 * K, TlbStat.PageSize4K), (2 * M, TlbStat.PageSize2M), (1 * G, TlbStat.PageSize2M) })
        {
            var pgt = s2Leaf == 4 * K ? Stage2(40, RamIpa, 8 * M, 4 * K) : Stage2(40, RamIpa, G, s2Leaf);
            var model = new GuestTlbModel(TlbProfiles.Simple, Guest(RamIpa, 4 * M, GuestMapping.Thp, 40), pgt);
            model.OnAccess(RamIpa + 3 * M, AccessKind.Read);
            Assert.Equal(1, model.Counters[expected]);
            // A second access in the same 4K: a hit; elsewhere in the 2M: a hit only if the entry is 2M.
            model.OnAccess(RamIpa + 3 * M + 64, AccessKind.Read);
            model.OnAccess(RamIpa + 2 * M + 64 * K, AccessKind.Read);
            Assert.Equal(s2Leaf == 4 * K ? 2 : 1, model.Counters[TlbStat.Walks]);
        }
    }

    [Fact]
    public void An_unmapped_final_ipa_is_a_stage_2_fault_walk_that_fills_nothing()
    {
        var pgt = Stage2(40, RamIpa + 2 * M, 2 * M, 2 * M); // the tables' 2M only; the data IPA is unmapped
        var model = new GuestTlbModel(TlbProfiles.Simple, Guest(RamIpa, 2 * M, GuestMapping.Pages, 40), pgt);

        model.OnAccess(RamIpa, AccessKind.Read);
        model.OnAccess(RamIpa, AccessKind.Read);

        Assert.Equal(2, model.Counters[TlbStat.Stage2FaultWalks]);
        Assert.Equal(2, model.Counters[TlbStat.Walks]);
        Assert.Empty(model.Entries());
        // 4 tables × (2 stage-2 reads + 1) + the final IPA's walk to the invalid level-2 entry (2 reads).
        Assert.Equal(2 * (4 * 3 + 2), model.Counters[TlbStat.WalkMemRefs]);
    }

    [Fact]
    public void A_va_no_region_maps_is_a_stage_1_fault_without_a_walk()
    {
        var pgt = Stage2(40, RamIpa, 4 * M, 2 * M);
        var model = new GuestTlbModel(TlbProfiles.NeoverseN1, Guest(RamIpa, 2 * M, GuestMapping.Pages, 40), pgt);

        model.OnAccess(0x10_0000_0000, AccessKind.Read);
        model.OnAccessIpa(0x20_0000_0000, AccessKind.Write);

        Assert.Equal(2, model.Counters[TlbStat.Stage1Faults]);
        Assert.Equal(0, model.Counters[TlbStat.Walks]);
        Assert.Equal(2, model.Counters.Accesses);
    }
}
