using Stage2Lab.Arch;
using Stage2Lab.Simulation.Tlb;
using static Stage2Lab.Tests.Tlb.TlbKit;

namespace Stage2Lab.Tests.Tlb;

/// <summary>
/// Working-set sweeps: read W pages in order, round after round, and count what the last (steady) round costs.
/// With LRU, a cyclic sweep over more entries than a fully associative array holds misses on every access, so
/// the steps sit exactly at the capacities: 48 entries in the L1 DTLB, 5 per set of the 256-set L2 (1280).
/// </summary>
public class ReachSweepTests
{
    private static TlbCounters SteadyRound(TlbProfile profile, GuestMapping mapping, ulong pageSize, int pages, ulong s2Leaf, int ipaBits = 40)
    {
        ulong size = pageSize * (ulong)pages;
        ulong s2Size = Math.Max(size + 2 * M, s2Leaf) + (s2Leaf - 1) & ~(s2Leaf - 1);
        var pgt = s2Leaf == 4 * K ? Stage2(ipaBits, RamIpa, size + 2 * M, 4 * K) : Stage2(ipaBits, RamIpa, s2Size, s2Leaf);
        GuestStage1 guest = Guest(RamIpa, size, mapping, ipaBits);
        var model = new GuestTlbModel(profile, guest, pgt);
        ulong[] vas = Pages(RamIpa, pages, pageSize);
        for (int round = 0; round < 3; round++)
            Round(model, vas);
        return Round(model, vas);
    }

    [Theory]
    [InlineData(16, 0)]
    [InlineData(48, 0)]
    [InlineData(49, 49)]
    [InlineData(64, 64)]
    public void The_l1_dtlb_holds_48_4K_pages(int pages, long expectedDtbMisses)
    {
        TlbCounters steady = SteadyRound(TlbProfiles.NeoverseN1, GuestMapping.Pages, 4 * K, pages, 2 * M);
        Assert.Equal(expectedDtbMisses, steady.DtbMisses);
        Assert.Equal(0, steady[TlbStat.Walks]); // all within the L2's reach
    }

    [Theory]
    [InlineData(1024, 0)]
    [InlineData(1280, 0)]
    // Set 0 holds pages 0, 256, 512, 768, 1024, 1280: six in five ways, swept in order: all six miss.
    [InlineData(1281, 6)]
    [InlineData(1300, 6 * 20)]
    [InlineData(1536, 1536)]
    public void The_l2_holds_1280_4K_pages_in_256_sets_of_5(int pages, long expectedWalks)
    {
        TlbCounters steady = SteadyRound(N1WithoutWalkCaches, GuestMapping.Pages, 4 * K, pages, 2 * M);
        Assert.Equal(pages, steady.DtbMisses);
        Assert.Equal(expectedWalks, steady[TlbStat.Walks]);
    }

    [Fact]
    public void With_walk_caches_in_the_same_l2_the_step_stays_near_1280()
    {
        // Stage-1 and stage-2 walk-cache entries take a few ways of a few sets (the TRM puts them in the L2): a
        // handful of walks per round just below 1280, all of them well above it.
        long below = SteadyRound(TlbProfiles.NeoverseN1, GuestMapping.Pages, 4 * K, 1024, 2 * M)[TlbStat.Walks];
        long above = SteadyRound(TlbProfiles.NeoverseN1, GuestMapping.Pages, 4 * K, 1536, 2 * M)[TlbStat.Walks];
        Assert.InRange(below, 0, 1024 / 100);
        Assert.Equal(1536, above);
    }

    [Fact]
    public void Stage_2_blocks_under_4K_guest_pages_do_not_add_reach_but_make_walks_cheaper()
    {
        TlbCounters pages = SteadyRound(TlbProfiles.NeoverseN1, GuestMapping.Pages, 4 * K, 2048, 4 * K);
        TlbCounters blocks = SteadyRound(TlbProfiles.NeoverseN1, GuestMapping.Pages, 4 * K, 2048, 2 * M);
        Assert.Equal(pages[TlbStat.Walks], blocks[TlbStat.Walks]);
        Assert.Equal(2048, blocks[TlbStat.PageSize4K]);
        Assert.True(blocks.MemRefsPerWalk < pages.MemRefsPerWalk,
            $"refs/walk with 2M stage-2 blocks {blocks.MemRefsPerWalk} should be below 4K pages' {pages.MemRefsPerWalk}");
        // Without walk caches: (4+1)(3+1)-1 = 19 with pages (40-bit IPA), 14 with 2M blocks.
        Assert.Equal(19, pages.MemRefsPerWalkWithoutCaches);
        Assert.Equal(14, blocks.MemRefsPerWalkWithoutCaches);
    }

    [Theory]
    [InlineData(48, 0, 0)]
    [InlineData(49, 49, 0)]
    [InlineData(1280, 1280, 0)]
    [InlineData(1281, 1281, 6)]
    public void Guest_2M_pages_on_2M_stage_2_blocks_reach_48_and_1280_times_2M(int pages, long expectedDtbMisses, long expectedWalks)
    {
        TlbCounters steady = SteadyRound(N1WithoutWalkCaches, GuestMapping.Thp, 2 * M, pages, 2 * M);
        Assert.Equal(expectedDtbMisses, steady.DtbMisses);
        Assert.Equal(expectedWalks, steady[TlbStat.Walks]);
    }

    [Fact]
    public void Guest_1G_pages_on_1G_stage_2_blocks_reach_48_times_512M_in_the_dtlb_and_stay_in_the_l2()
    {
        // The DTLB holds 512M at most: a 1G entry is split to the half the access is in (TRM A5.2.2).
        TlbCounters fit = SteadyRound(TlbProfiles.NeoverseN1, GuestMapping.Block1G, G, 48, G, ipaBits: 48);
        TlbCounters over = SteadyRound(TlbProfiles.NeoverseN1, GuestMapping.Block1G, G, 64, G, ipaBits: 48);
        Assert.Equal(0, fit.DtbMisses);
        Assert.Equal(64, over.DtbMisses);
        Assert.Equal(0, over[TlbStat.Walks]);
        Assert.Equal(64, over.L2Hits);
    }
}
