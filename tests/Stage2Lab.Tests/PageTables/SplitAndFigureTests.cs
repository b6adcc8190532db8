using Stage2Lab.Arch;
using Stage2Lab.PageTables;
using static Stage2Lab.Tests.PageTables.PageTableKit;

namespace Stage2Lab.Tests.PageTables;

/// <summary>kvm_pgtable_stage2_split, and the 1 GiB BAR figures of stage2-model.md §7.</summary>
public class SplitAndFigureTests
{
    [Theory]
    [InlineData("rwd", false)]
    [InlineData("rwd", true)]
    [InlineData("rwn", false)]
    [InlineData("rx", false)]
    public void Split_turns_a_block_into_normal_write_back_pages_with_AF_set_keeping_only_RWX(string prot, bool fwb)
    {
        var pgt = NewTable("4K", 40, fwb: fwb, dic: false);
        const ulong ipa = 2 * M, pa = 1UL << 40;
        Assert.Equal(0, pgt.Map(ipa, 2 * M, pa, prot));
        Assert.True(pgt.TestClearYoung(ipa, 2 * M, mkold: true)); // the block is old; its pages will not be
        Stage2Counters before = pgt.Counters;

        Assert.Equal(0, pgt.Split(ipa + 4 * K, 4 * K, MemoryCache.Unbounded()));

        string rwx = new(prot.Where(c => c is 'r' or 'w' or 'x').ToArray());
        Span<ulong> pages = pgt.Pool.Page(ChildOf(pgt, ipa, 2));
        for (int i = 0; i < pages.Length; i++)
            Assert.Equal(LeafDescriptor(pa + (ulong)i * 4 * K, 3, rwx, fwb), pages[i]);
        AssertCounters(pgt.Counters - before,
            (Stage2Counter.DescriptorWrites, 2 + 2 * 512),   // marker + table; marker + page for each of 512
            (Stage2Counter.BreakBeforeMake, 1),
            (Stage2Counter.LeavesRemoved, 1),
            (Stage2Counter.LeavesInstalledL3, 512),
            (Stage2Counter.TablePagesAllocated, 1),
            (Stage2Counter.TlbiIpas2e1isL2, 1),               // only the live block; the unlinked table needs none
            (Stage2Counter.TlbiVmalle1is, 1));                // and no cache maintenance: same memory
        AssertConsistent(pgt);
    }

    [Theory]
    [InlineData(513L, 0, 512)]  // stage2_block_get_nr_page_tables(1) = 512 + 1: straight to pages
    [InlineData(512L, -Errno.ENOMEM, 511)]  // one short: an L2 table of 2M blocks, then 511 of them split
    [InlineData(3L, -Errno.ENOMEM, 2)]
    [InlineData(1L, -Errno.ENOMEM, 0)]      // the L2 table of blocks only
    [InlineData(0L, -Errno.ENOMEM, -1)]     // nothing at all
    public void Split_with_a_small_cache_goes_one_level_at_a_time_until_the_cache_is_empty(long cachePages, int expected, int l2BlocksSplit)
    {
        var pgt = NewTable("4K", 40);
        const ulong ipa = G, pa = 1UL << 40;
        Assert.Equal(0, pgt.Map(ipa, G, pa, "rw"));
        var cache = new MemoryCache(cachePages, cachePages);
        Stage2Counters before = pgt.Counters;

        Assert.Equal(expected, pgt.Split(ipa, G, cache));

        Assert.Equal(0, cache.Objects);
        Stage2Counters diff = pgt.Counters - before;
        if (l2BlocksSplit < 0)
        {
            AssertCounters(diff);
            Assert.Equal(LeafDescriptor(pa, 1, "rw"), EntryAt(pgt, ipa, 1));
            return;
        }
        bool direct = cachePages >= 513;
        int l3Tables = direct ? 512 : l2BlocksSplit;
        int l2BlocksLeft = direct ? 0 : 512 - l2BlocksSplit;
        Assert.Equal(1, pgt.LiveTablePages(2));
        Assert.Equal(l3Tables, pgt.LiveTablePages(3));
        List<LeafEntry> leaves = Leaves(pgt);
        Assert.Equal(l2BlocksLeft, leaves.Count(l => l.Level == 2));
        Assert.Equal(512 * l3Tables, leaves.Count(l => l.Level == 3));
        if (l2BlocksLeft > 0)
            Assert.Equal(LeafDescriptor(pa + G - 2 * M, 2, "rw"), EntryAt(pgt, ipa + G - 2 * M, 2));
        if (l3Tables > 0)
        {
            // The last page split, in IPA order: the walk splits 2M blocks from the bottom up.
            ulong lastPage = direct ? G - 4 * K : (ulong)l2BlocksSplit * 2 * M - 4 * K;
            Assert.Equal(LeafDescriptor(pa + lastPage, 3, "rw"), EntryAt(pgt, ipa + lastPage, 3));
        }
        int breaks = direct ? 1 : 1 + l2BlocksSplit;
        Assert.Equal(breaks, diff[Stage2Counter.BreakBeforeMake]);
        Assert.Equal(1, diff[Stage2Counter.TlbiIpas2e1isL1]);
        Assert.Equal(direct ? 0 : l2BlocksSplit, diff[Stage2Counter.TlbiIpas2e1isL2]);
        Assert.Equal(direct ? 0 : 512, diff[Stage2Counter.LeavesInstalledL2]);
        Assert.Equal(1 + l3Tables, diff[Stage2Counter.TablePagesAllocated]);
        AssertConsistent(pgt);

        // Topped up, the same call finishes the job.
        if (!direct)
        {
            Assert.Equal(0, pgt.Split(ipa, G, MemoryCache.Unbounded()));
            Assert.Equal(512, pgt.LiveTablePages(3));
            Assert.Equal(LeafDescriptor(pa + G - 4 * K, 3, "rw"), EntryAt(pgt, ipa + G - 4 * K, 3));
            AssertConsistent(pgt);
        }
    }

    // stage2-model.md §7: a 1 GiB BAR is 262,144 4K leaves (512 L3 tables, 2 MiB of tables, 262,144 TLBIs
    // on unmap) versus one 1G block; with 64K pages, 16,384 pages versus two 512M blocks.
    [Theory]
    [InlineData("4K", 0x80_0000_1000UL, 3, 262_144, 1, 512, 2UL << 20)]  // PA only 4K-aligned: pages
    [InlineData("4K", 0x80_4000_0000UL, 1, 1, 0, 0, 0UL)]                 // PA 1G-aligned: one L1 block
    [InlineData("64K", 0x80_0001_0000UL, 3, 16_384, 1, 2, 128UL << 10)]   // 64K: two L3 tables of 8,192
    [InlineData("64K", 0x80_2000_0000UL, 2, 2, 1, 0, 0UL)]                // 64K: two 512M blocks
    public void One_GiB_BAR_figures(string granule, ulong pa, int leafLevel, int leaves, int l2Tables, int l3Tables, ulong l3TableBytes)
    {
        var pgt = NewTable(granule, granule == "4K" ? 40 : 48);
        Assert.Equal(1, pgt.Geometry.StartLevel);
        const ulong bar = G;
        Stage2Counters before = pgt.Counters;

        Assert.Equal(0, pgt.Map(bar, G, pa, "rwd"));

        Stage2Counters mapped = pgt.Counters - before;
        Assert.Equal(leaves, mapped.LeavesInstalled);
        Assert.Equal(leaves, mapped[LeavesAt(leafLevel)]);
        Assert.Equal(l2Tables, pgt.LiveTablePages(2));
        Assert.Equal(l3Tables, pgt.LiveTablePages(3));
        Assert.Equal((long)l3TableBytes, pgt.LiveTablePages(3) * (long)pgt.Granule.PageSize);
        Assert.Equal(0, mapped[Stage2Counter.DcacheCleanBytes]); // device memory is never cleaned
        Translation last = pgt.Translate(bar + G - 1, AccessKind.Read);
        Assert.Equal((TranslationOutcome.Mapped, leafLevel, pa + G - 1), (last.Outcome, last.Level, last.Pa));

        before = pgt.Counters;
        Assert.Equal(0, pgt.Unmap(bar, G));

        Stage2Counters unmapped = pgt.Counters - before;
        Assert.Equal(leaves, unmapped[TlbiAt(leafLevel)]);   // one TLBI per leaf
        Assert.Equal(leaves, unmapped[Stage2Counter.LeavesRemoved]);
        Assert.Equal(l2Tables + l3Tables, unmapped[Stage2Counter.TablePagesFreed]);
        Assert.Equal(pgt.Geometry.RootPages, pgt.LiveTablePagesTotal);
    }
}
