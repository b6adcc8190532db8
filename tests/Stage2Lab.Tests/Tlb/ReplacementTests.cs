using Stage2Lab.Arch;
using Stage2Lab.Simulation.Tlb;
using static Stage2Lab.Tests.Tlb.TlbKit;

namespace Stage2Lab.Tests.Tlb;

/// <summary>
/// Replacement: least recently used in the fully associative L1s and in each 5-way L2 set (the Cortex-A76 TRM
/// states no TLB replacement policy; gem5's ArmTLB defaults to LRU, the assumption docs/tlb-model.md states), and
/// entries larger than an array holds are split to the part around the access.
/// </summary>
public class ReplacementTests
{
    private static GuestTlbModel Model(TlbProfile profile, ulong size = 64 * M, GuestMapping mapping = GuestMapping.Pages, ulong s2Leaf = 2 * M, int ipaBits = 40)
    {
        var pgt = Stage2(ipaBits, RamIpa, size + s2Leaf, s2Leaf);
        return new GuestTlbModel(profile, Guest(RamIpa, size, mapping, ipaBits), pgt);
    }

    [Fact]
    public void The_dtlb_evicts_its_least_recently_used_entry()
    {
        GuestTlbModel model = Model(TlbProfiles.NeoverseN1);
        ulong[] pages = Pages(RamIpa, 49, 4 * K);
        Round(model, pages[..48]);
        model.OnAccess(pages[0], AccessKind.Read); // page 0 becomes the most recent; page 1 the least
        model.OnAccess(pages[48], AccessKind.Write); // evicts page 1

        Assert.Equal(0, Round(model, [pages[0]]).DtbMisses);
        Assert.Equal(0, Round(model, [pages[2]]).DtbMisses);
        Assert.Equal(1, Round(model, [pages[1]]).DtbMisses);
        Assert.Equal(48, EntriesOf(model, "dtb").Count);
    }

    [Fact]
    public void Instruction_fetches_use_the_itlb_and_data_accesses_the_dtlb()
    {
        GuestTlbModel model = Model(TlbProfiles.NeoverseN1);
        model.OnAccess(RamIpa, AccessKind.Exec);
        model.OnAccess(RamIpa, AccessKind.Read);

        TlbCounters c = model.Counters;
        Assert.Equal((1L, 1L), (c[TlbStat.ItbInstMisses], c[TlbStat.DtbReadMisses]));
        Assert.Equal(1, c[TlbStat.L2ReadHits]); // the fetch's walk filled the shared L2
        Assert.Equal(1, c[TlbStat.Walks]);
    }

    [Fact]
    public void An_l2_set_evicts_its_least_recently_used_way()
    {
        GuestTlbModel model = Model(N1WithoutWalkCaches);
        // Pages 0, 256, 512, 768, 1024 fill set 0; page 0 is then refreshed from the L2 (after the DTLB lost it).
        ulong[] set0 = Pages(RamIpa, 6, 256 * 4 * K);
        Round(model, set0[..5]);
        Round(model, Pages(RamIpa + 4 * K, 48, 4 * K)); // 48 other pages push the set-0 pages out of the DTLB
        Assert.Equal(1, Round(model, [set0[0]]).L2Hits);
        Round(model, [set0[5]]); // evicts page 256, now the least recently used of set 0

        List<string> l2 = EntriesOf(model, "l2_shared");
        Assert.Contains("va->pa@0x40000000/4K", l2);
        Assert.DoesNotContain("va->pa@0x40100000/4K", l2);
        Assert.Contains("va->pa@0x40500000/4K", l2);
    }

    [Fact]
    public void A_1G_entry_goes_into_the_dtlb_as_the_512M_half_and_into_the_itlb_as_32M()
    {
        GuestTlbModel model = Model(TlbProfiles.NeoverseN1, size: 2 * G, mapping: GuestMapping.Block1G, s2Leaf: G, ipaBits: 48);
        model.OnAccess(RamIpa + 700 * M, AccessKind.Read);
        model.OnAccess(RamIpa + 700 * M, AccessKind.Exec);

        Assert.Equal(["va->pa@0x60000000/512M"], EntriesOf(model, "dtb"));
        Assert.Equal(["va->pa@0x6a000000/32M"], EntriesOf(model, "itb"));
        Assert.Contains("va->pa@0x40000000/1G", EntriesOf(model, "l2_shared"));
        Assert.Equal(1, model.Counters[TlbStat.PageSize1G]);

        // The other half of the GiB: a DTLB miss answered by the L2's 1G entry, no walk.
        TlbCounters c = Round(model, [RamIpa + 100 * M]);
        Assert.Equal((1L, 1L, 0L), (c.DtbMisses, c.L2Hits, c[TlbStat.Walks]));
    }

    [Fact]
    public void A_contiguous_run_of_4K_pages_is_one_64K_entry()
    {
        GuestTlbModel model = Model(TlbProfiles.NeoverseN1, mapping: GuestMapping.Contiguous);
        TlbCounters c = Round(model, Pages(RamIpa, 16, 4 * K));
        Assert.Equal(1, c[TlbStat.Walks]);
        Assert.Equal(1, c[TlbStat.PageSize64K]);
        Assert.Equal(["va->pa@0x40000000/64K"], EntriesOf(model, "dtb"));
    }

    [Fact]
    public void Reset_empties_every_array_and_zeroes_the_counters()
    {
        GuestTlbModel model = Model(TlbProfiles.NeoverseN1);
        Round(model, Pages(RamIpa, 100, 4 * K));
        model.Reset();
        Assert.Empty(model.Entries());
        Assert.True(model.Counters.IsZero);
        Assert.Equal(1, Round(model, [RamIpa]).DtbMisses);
    }
}
