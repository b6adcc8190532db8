using Stage2Lab.Arch;
using Stage2Lab.PageTables;
using static Stage2Lab.Tests.PageTables.PageTableKit;

namespace Stage2Lab.Tests.PageTables;

/// <summary>kvm_pgtable_stage2_unmap, table refcounts, TLB invalidation and cache maintenance.</summary>
public class UnmapAndMaintenanceTests
{
    // ---------------------------------------------------------------- partial unmap of a block

    [Theory]
    [InlineData("4K", 40, 1)]   // the block sits in a root page: no table to free
    [InlineData("4K", 40, 2)]   // the block is the only entry of an L2 table, which goes with it
    [InlineData("16K", 40, 2)]
    [InlineData("64K", 44, 2)]
    public void Unmapping_one_page_of_a_block_removes_the_whole_block(string granule, int ipaBits, int blockLevel)
    {
        var pgt = NewTable(granule, ipaBits);
        ulong page = pgt.Granule.PageSize, blockSize = pgt.Granule.LevelSize(blockLevel);
        ulong blockIpa = 2 * blockSize;
        Assert.Equal(0, pgt.Map(blockIpa, blockSize, 1UL << 40, "rw"));
        bool tableFreed = blockLevel != pgt.Geometry.StartLevel;
        int f = tableFreed ? 1 : 0;
        Stage2Counters before = pgt.Counters;

        Assert.Equal(0, pgt.Unmap(blockIpa + 5 * page, page));

        Assert.Empty(Leaves(pgt));
        int faultLevel = tableFreed ? blockLevel - 1 : blockLevel;
        foreach (ulong ipa in new[] { blockIpa, blockIpa + 5 * page, blockIpa + blockSize - page })
        {
            Translation t = pgt.Translate(ipa, AccessKind.Read);
            Assert.Equal((TranslationOutcome.TranslationFault, faultLevel), (t.Outcome, t.Level));
        }
        AssertCounters(pgt.Counters - before,
            (Stage2Counter.DescriptorWrites, 1 + f),
            (Stage2Counter.LeavesRemoved, 1),
            (TlbiAt(blockLevel), 1),
            (Stage2Counter.TlbiIpas2e1isNoHint, f),      // a cleared table entry: TTL unknown
            (Stage2Counter.TlbiVmalle1is, 1 + f),
            (Stage2Counter.TablePagesFreed, f),
            (Stage2Counter.DcacheCleanOps, 1),            // no FWB: the whole block is cleaned to PoC
            (Stage2Counter.DcacheCleanBytes, (long)blockSize));
        AssertConsistent(pgt);
    }

    // ---------------------------------------------------------------- refcounts

    [Fact]
    public void Table_pages_are_freed_when_their_last_entry_goes_and_not_before()
    {
        var pgt = NewTable("4K", 40);
        const ulong b = 0x4000_0000; // L1 index 1 of the first root page
        Assert.Equal(0, pgt.Map(b, 4 * K, 1UL << 40, "rw"));
        Assert.Equal(0, pgt.Map(b + 4 * K, 4 * K, (1UL << 40) + 4 * K, "rw"));
        Assert.Equal(0, pgt.Map(b + 2 * M, 4 * K, (1UL << 40) + 2 * M, "rw"));
        Assert.Equal(2, RefCountAt(pgt, b, 3));
        Assert.Equal(1, RefCountAt(pgt, b + 2 * M, 3));
        Assert.Equal(2, RefCountAt(pgt, b, 2));
        Assert.Equal(1, RefCountAt(pgt, b, 1));
        Assert.Equal((2L, 1L, 2L), (pgt.LiveTablePages(1), pgt.LiveTablePages(2), pgt.LiveTablePages(3)));

        Assert.Equal(0, pgt.Unmap(b, 4 * K));
        Assert.Equal(1, RefCountAt(pgt, b, 3));
        Assert.Equal(2, pgt.LiveTablePages(3));

        Stage2Counters before = pgt.Counters;
        Assert.Equal(0, pgt.Unmap(b + 4 * K, 4 * K));
        Assert.Equal(1, RefCountAt(pgt, b, 2));
        Assert.Equal(1, pgt.LiveTablePages(3));
        Assert.Equal(1, (pgt.Counters - before)[Stage2Counter.TablePagesFreed]);

        before = pgt.Counters;
        Assert.Equal(0, pgt.Unmap(b + 2 * M, 4 * K));

        // The L3 table empties, then the L2 table above it: only the two concatenated roots remain.
        Assert.Equal(0, RefCountAt(pgt, b, 1));
        Assert.Equal(pgt.Geometry.RootPages, pgt.LiveTablePagesTotal);
        AssertCounters(pgt.Counters - before,
            (Stage2Counter.DescriptorWrites, 3),
            (Stage2Counter.LeavesRemoved, 1),
            (Stage2Counter.TlbiIpas2e1isL3, 1),
            (Stage2Counter.TlbiIpas2e1isNoHint, 2),
            (Stage2Counter.TlbiVmalle1is, 3),
            (Stage2Counter.TablePagesFreed, 2),
            (Stage2Counter.DcacheCleanOps, 1),
            (Stage2Counter.DcacheCleanBytes, 4096));
        AssertConsistent(pgt);
    }

    // ---------------------------------------------------------------- deferred range TLBI

    [Theory]
    [InlineData(false, false, 4)]
    [InlineData(false, true, 4)]   // range TLBI alone does not defer: the walk cleans caches anyway
    [InlineData(true, false, 4)]
    [InlineData(true, true, 4)]    // FWB + FEAT_TLBIRANGE: one RIPAS2E1IS after the walk
    [InlineData(true, true, 3)]    // odd count: a 2-page range op plus one IPAS2E1IS without level hint
    public void Unmap_defers_per_leaf_TLBIs_to_one_range_TLBI_only_with_FWB_and_range_TLBI(bool fwb, bool rangeTlbi, int pages)
    {
        var pgt = NewTable("4K", 40, fwb: fwb, rangeTlbi: rangeTlbi);
        const ulong ipa = 0x20_0000;
        Assert.Equal(0, pgt.Map(ipa, 8 * 4 * K, (1UL << 40) + 4 * K, "rw")); // PA not 2M-aligned: eight pages
        Stage2Counters before = pgt.Counters;

        Assert.Equal(0, pgt.Unmap(ipa, (ulong)pages * 4 * K));

        bool deferred = fwb && rangeTlbi;
        (Stage2Counter, long)[] tlbi = deferred
            ? [(Stage2Counter.TlbiRange, 1), (Stage2Counter.TlbiRangePages, pages), (Stage2Counter.TlbiIpas2e1isNoHint, pages % 2), (Stage2Counter.TlbiVmalle1is, 1)]
            : [(Stage2Counter.TlbiIpas2e1isL3, pages), (Stage2Counter.TlbiVmalle1is, pages)];
        (Stage2Counter, long)[] cmo = fwb ? [] : [(Stage2Counter.DcacheCleanOps, pages), (Stage2Counter.DcacheCleanBytes, pages * 4096L)];
        AssertCounters(pgt.Counters - before,
        [
            (Stage2Counter.DescriptorWrites, pages),
            (Stage2Counter.LeavesRemoved, pages),
            .. tlbi,
            .. cmo,
        ]);
    }

    // ---------------------------------------------------------------- cache maintenance

    [Theory]
    [InlineData("rw", false, true, 2UL << 20, 0UL)]
    [InlineData("r", false, false, 2UL << 20, 0UL)]
    [InlineData("rw", true, false, 0UL, 0UL)]          // FWB: no clean to PoC
    [InlineData("rwx", false, false, 2UL << 20, 2UL << 20)]
    [InlineData("rwx", true, false, 0UL, 2UL << 20)]
    [InlineData("rwx", false, true, 2UL << 20, 0UL)]   // DIC: the I-cache invalidation is elided
    [InlineData("rwd", false, false, 0UL, 0UL)]        // device: not Normal cacheable, never executable
    [InlineData("rwn", false, false, 0UL, 0UL)]        // normal non-cacheable: not cleaned either
    public void Map_cleans_the_dcache_only_without_FWB_for_cacheable_leaves_and_the_icache_only_without_DIC_for_executable_ones(
        string prot, bool fwb, bool dic, ulong dcacheBytes, ulong icacheBytes)
    {
        var pgt = NewTable("4K", 40, fwb: fwb, dic: dic);
        Stage2Counters before = pgt.Counters;

        Assert.Equal(0, pgt.Map(2 * M, 2 * M, 1UL << 40, prot));

        Assert.Equal(LeafDescriptor(1UL << 40, 2, prot, fwb), EntryAt(pgt, 2 * M, 2));
        AssertCounters(pgt.Counters - before,
            (Stage2Counter.DescriptorWrites, 4),   // L2 table: marker + table; block: marker + leaf
            (Stage2Counter.TablePagesAllocated, 1),
            (Stage2Counter.LeavesInstalledL2, 1),
            (Stage2Counter.DcacheCleanOps, dcacheBytes > 0 ? 1 : 0),
            (Stage2Counter.DcacheCleanBytes, (long)dcacheBytes),
            (Stage2Counter.IcacheInvalOps, icacheBytes > 0 ? 1 : 0),
            (Stage2Counter.IcacheInvalBytes, (long)icacheBytes));
    }

    [Theory]
    [InlineData("rw", false, 2UL << 20)]
    [InlineData("rwx", false, 2UL << 20)]
    [InlineData("rw", true, 0UL)]
    [InlineData("rwd", false, 0UL)]
    [InlineData("rwn", false, 0UL)]
    public void Unmap_cleans_the_dcache_only_without_FWB_and_only_for_normal_cacheable_leaves(string prot, bool fwb, ulong dcacheBytes)
    {
        var pgt = NewTable("4K", 40, fwb: fwb, dic: false);
        Assert.Equal(0, pgt.Map(2 * M, 2 * M, 1UL << 40, prot));
        Stage2Counters before = pgt.Counters;

        Assert.Equal(0, pgt.Unmap(2 * M, 2 * M));

        AssertCounters(pgt.Counters - before,
            (Stage2Counter.DescriptorWrites, 2),
            (Stage2Counter.LeavesRemoved, 1),
            (Stage2Counter.TlbiIpas2e1isL2, 1),
            (Stage2Counter.TlbiIpas2e1isNoHint, 1),
            (Stage2Counter.TlbiVmalle1is, 2),
            (Stage2Counter.TablePagesFreed, 1),
            (Stage2Counter.DcacheCleanOps, dcacheBytes > 0 ? 1 : 0),
            (Stage2Counter.DcacheCleanBytes, (long)dcacheBytes));
    }

    [Theory]
    [InlineData("rw", "rwx", false, 4096UL)]   // becomes executable: I-cache invalidated (no DIC)
    [InlineData("rw", "rwx", true, 0UL)]       // DIC: elided
    [InlineData("rwx", "rwx", false, 0UL)]     // already executable: nothing to invalidate, nothing written
    [InlineData("r", "rw", false, 0UL)]
    public void Relax_invalidates_the_icache_only_when_a_leaf_becomes_executable_without_DIC(string initial, string relaxed, bool dic, ulong icacheBytes)
    {
        var pgt = NewTable("4K", 40, dic: dic);
        Assert.Equal(0, pgt.Map(2 * M, 4 * K, 1UL << 40, initial));
        Stage2Counters before = pgt.Counters;

        Assert.Equal(0, pgt.RelaxPerms(2 * M, P(relaxed)));

        Assert.Equal(LeafDescriptor(1UL << 40, 3, relaxed), EntryAt(pgt, 2 * M, 3));
        AssertCounters(pgt.Counters - before,
            (Stage2Counter.DescriptorWrites, initial == relaxed ? 0 : 1),
            (Stage2Counter.TlbiIpas2e1, 1),        // __kvm_tlb_flush_vmid_ipa_nsh
            (Stage2Counter.TlbiVmalle1, 1),
            (Stage2Counter.IcacheInvalOps, icacheBytes > 0 ? 1 : 0),
            (Stage2Counter.IcacheInvalBytes, (long)icacheBytes));
    }

    [Fact]
    public void Relax_sets_execute_exactly_as_given_and_never_removes_read_or_write()
    {
        var pgt = NewTable("4K", 40);
        Assert.Equal(0, pgt.Map(2 * M, 2 * M, 1UL << 40, "rwx"));

        Assert.Equal(0, pgt.RelaxPerms(2 * M + 5 * 4 * K, P("r")));

        // FEAT_XNX era: X not given means execute-never, even though relax only "relaxes" R and W.
        Assert.Equal(LeafDescriptor(1UL << 40, 2, "rw"), EntryAt(pgt, 2 * M, 2));
    }

    [Fact]
    public void Wrprotect_of_one_page_clears_write_on_the_whole_block_without_TLBI()
    {
        var pgt = NewTable("4K", 40);
        Assert.Equal(0, pgt.Map(2 * M, 2 * M, 1UL << 40, "rw"));
        Stage2Counters before = pgt.Counters;

        Assert.Equal(0, pgt.WrProtect(2 * M + 4 * K, 4 * K));

        Assert.Equal(LeafDescriptor(1UL << 40, 2, "r"), EntryAt(pgt, 2 * M, 2));
        AssertCounters(pgt.Counters - before, (Stage2Counter.DescriptorWrites, 1)); // the caller flushes TLBs
    }
}
