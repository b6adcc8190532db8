using Stage2Lab.Arch;
using Stage2Lab.PageTables;
using static Stage2Lab.Tests.PageTables.PageTableKit;

namespace Stage2Lab.Tests.PageTables;

/// <summary>kvm_pgtable_stage2_map corner cases, asserting exact descriptors, levels and counters.</summary>
public class MapCornerCaseTests
{
    // ---------------------------------------------------------------- block broken by a smaller map

    [Theory]
    [InlineData("4K", 40, 1)]   // 1G block broken by a 2M block
    [InlineData("4K", 40, 2)]   // 2M block broken by a 4K page
    [InlineData("16K", 40, 2)]  // 32M block broken by a 16K page (start level 2: the block sits in a root page)
    [InlineData("64K", 44, 2)]  // 512M block broken by a 64K page
    public void Smaller_map_inside_a_block_installs_a_table_holding_only_the_new_leaf(string granule, int ipaBits, int blockLevel)
    {
        var pgt = NewTable(granule, ipaBits);
        int smallLevel = blockLevel + 1;
        ulong blockSize = pgt.Granule.LevelSize(blockLevel), smallSize = pgt.Granule.LevelSize(smallLevel);
        ulong blockIpa = 2 * blockSize, blockPa = 1UL << 40;
        ulong smallIpa = blockIpa + 3 * smallSize, smallPa = (1UL << 41) + 3 * smallSize;
        Assert.Equal(0, pgt.Map(blockIpa, blockSize, blockPa, "rw"));
        Assert.Equal(LeafDescriptor(blockPa, blockLevel, "rw"), EntryAt(pgt, blockIpa, blockLevel));
        long tablesBefore = pgt.LiveTablePages(smallLevel);
        Stage2Counters before = pgt.Counters;

        Assert.Equal(0, pgt.Map(smallIpa, smallSize, smallPa, "rw"));

        int child = ChildOf(pgt, blockIpa, blockLevel);
        Assert.Equal(smallLevel, pgt.Pool.Level(child));
        ulong[] entries = pgt.Pool.Page(child).ToArray();
        Assert.Equal(LeafDescriptor(smallPa, smallLevel, "rw"), entries[3]);
        Assert.All(entries.Where((_, i) => i != 3), e => Assert.Equal(0UL, e));
        Assert.Equal(1, pgt.Pool.EntryCount(child));
        Assert.Equal(tablesBefore + 1, pgt.LiveTablePages(smallLevel));
        AssertCounters(pgt.Counters - before,
            (Stage2Counter.DescriptorWrites, 4),              // locked marker + table, locked marker + leaf
            (Stage2Counter.BreakBeforeMake, 1),
            (Stage2Counter.LeavesRemoved, 1),
            (LeavesAt(smallLevel), 1),
            (Stage2Counter.TablePagesAllocated, 1),
            (TlbiAt(blockLevel), 1),                          // __kvm_tlb_flush_vmid_ipa at the block's level
            (Stage2Counter.TlbiVmalle1is, 1),
            (Stage2Counter.DcacheCleanOps, 1),                // no FWB: the new normal leaf is cleaned to PoC
            (Stage2Counter.DcacheCleanBytes, (long)smallSize));

        // The rest of the old block is gone: it faults at the new table's level.
        Translation rest = pgt.Translate(blockIpa, AccessKind.Read);
        Assert.Equal((TranslationOutcome.TranslationFault, smallLevel), (rest.Outcome, rest.Level));
        Translation after = pgt.Translate(smallIpa + smallSize, AccessKind.Read);
        Assert.Equal((TranslationOutcome.TranslationFault, smallLevel), (after.Outcome, after.Level));
        Translation hit = pgt.Translate(smallIpa + 8, AccessKind.Write);
        Assert.Equal((TranslationOutcome.Mapped, smallLevel, smallPa + 8), (hit.Outcome, hit.Level, hit.Pa));
        AssertConsistent(pgt);
    }

    // ---------------------------------------------------------------- table replaced by a block

    [Theory]
    [InlineData(2, false)]
    [InlineData(2, true)]
    [InlineData(1, false)]
    [InlineData(1, true)]
    public void Block_map_over_a_table_replaces_it_and_frees_the_whole_subtree(int blockLevel, bool rangeTlbi)
    {
        var pgt = NewTable("4K", 40, rangeTlbi: rangeTlbi);
        ulong blockSize = pgt.Granule.LevelSize(blockLevel);
        ulong blockIpa = 2 * blockSize, blockPa = 1UL << 40;
        // Three pages: one L3 table under a 2M entry, or (under a 1G entry) an L2 table and three L3 tables.
        ulong[] offsets = [0, blockSize / 2 + 4 * K, blockSize - 4 * K];
        foreach (ulong o in offsets)
            Assert.Equal(0, pgt.Map(blockIpa + o, 4 * K, (1UL << 41) + o, "rw"));
        int subtreePages = blockLevel == 1 ? 4 : 1;
        Assert.Equal(blockLevel == 1 ? 3 : 1, pgt.LiveTablePages(3));
        Stage2Counters before = pgt.Counters;

        Assert.Equal(0, pgt.Map(blockIpa, blockSize, blockPa, "rw"));

        Assert.Equal(LeafDescriptor(blockPa, blockLevel, "rw"), EntryAt(pgt, blockIpa, blockLevel));
        Assert.Equal(0, pgt.LiveTablePages(3));
        Assert.Equal(blockLevel == 1 ? 0 : 1, pgt.LiveTablePages(2));
        // Breaking a table invalidates its whole span: one VMALLS12E1IS without FEAT_TLBIRANGE (no range
        // TLBI, no per-IPA TLBI); with it, one RIPAS2E1IS covering the span, then VMALLE1IS.
        (Stage2Counter, long)[] tlbi = rangeTlbi
            ? [(Stage2Counter.TlbiRange, 1), (Stage2Counter.TlbiRangePages, (long)(blockSize / (4 * K))), (Stage2Counter.TlbiVmalle1is, 1)]
            : [(Stage2Counter.TlbiVmalls12e1is, 1)];
        AssertCounters(pgt.Counters - before,
        [
            (Stage2Counter.DescriptorWrites, 2 + (subtreePages - 1)), // marker + block, then each inner table entry cleared
            (Stage2Counter.BreakBeforeMake, 1),
            (LeavesAt(blockLevel), 1),
            (Stage2Counter.LeavesRemoved, 3),
            (Stage2Counter.TablePagesFreed, subtreePages),
            (Stage2Counter.DcacheCleanOps, 1),
            (Stage2Counter.DcacheCleanBytes, (long)blockSize),
            .. tlbi,
        ]);
        AssertConsistent(pgt);
    }

    // ---------------------------------------------------------------- permission-only change: -EAGAIN

    [Theory]
    [InlineData("rwx", 0UL, WalkFlags.HandleFault, -Errno.EAGAIN, false)] // adds X only
    [InlineData("r", 0UL, WalkFlags.HandleFault, -Errno.EAGAIN, false)]   // drops W only
    [InlineData("rw", 0UL, WalkFlags.HandleFault, -Errno.EAGAIN, false)]  // the very same leaf
    [InlineData("rwx", 0UL, WalkFlags.None, 0, false)]                    // plain walk: skipped, success
    [InlineData("rwd", 0UL, WalkFlags.HandleFault, 0, true)]              // memory type changes: replaced
    [InlineData("rw", 0x1000UL, WalkFlags.HandleFault, 0, true)]          // PA changes: replaced
    public void Permission_only_map_is_EAGAIN_in_a_fault_walk_and_skipped_in_a_plain_walk(string prot, ulong paShift, WalkFlags flags, int expected, bool replaced)
    {
        var pgt = NewTable("4K", 40);
        const ulong ipa = 0x20_0000, pa = (1UL << 40) + 0x5000;
        Assert.Equal(0, pgt.Map(ipa, 4 * K, pa, "rw"));
        Stage2Counters before = pgt.Counters;

        Assert.Equal(expected, pgt.Map(ipa, 4 * K, pa + paShift, P(prot), MemoryCache.Unbounded(), flags));

        ulong now = EntryAt(pgt, ipa, 3);
        if (replaced)
        {
            Assert.Equal(LeafDescriptor(pa + paShift, 3, prot), now);
            Assert.Equal(1, (pgt.Counters - before)[Stage2Counter.BreakBeforeMake]);
        }
        else
        {
            Assert.Equal(LeafDescriptor(pa, 3, "rw"), now);
            AssertCounters(pgt.Counters - before); // not even a descriptor write
        }
    }

    [Fact]
    public void Remap_of_an_old_leaf_is_not_permission_only_and_replaces_it_with_AF_set()
    {
        var pgt = NewTable("4K", 40);
        const ulong ipa = 0x20_0000, pa = 1UL << 40;
        Assert.Equal(0, pgt.Map(ipa, 4 * K, pa, "rw"));
        Assert.True(pgt.TestClearYoung(ipa, 4 * K, mkold: true));
        Assert.Equal(LeafDescriptor(pa, 3, "rw", af: false), EntryAt(pgt, ipa, 3));

        Assert.Equal(0, pgt.Map(ipa, 4 * K, pa, P("rwx"), MemoryCache.Unbounded(), WalkFlags.HandleFault));

        Assert.Equal(LeafDescriptor(pa, 3, "rwx"), EntryAt(pgt, ipa, 3));
    }

    [Fact]
    public void EAGAIN_stops_a_fault_walk_but_a_plain_walk_goes_on_to_the_next_page()
    {
        const ulong ipa = 0x20_0000, pa = 1UL << 40;
        foreach (var (flags, expected, secondMapped) in new[] { (WalkFlags.HandleFault, -Errno.EAGAIN, false), (WalkFlags.None, 0, true) })
        {
            var pgt = NewTable("4K", 40);
            Assert.Equal(0, pgt.Map(ipa, 4 * K, pa, "rw"));

            Assert.Equal(expected, pgt.Map(ipa, 8 * K, pa, P("rwx"), MemoryCache.Unbounded(), flags));

            Assert.Equal(LeafDescriptor(pa, 3, "rw"), EntryAt(pgt, ipa, 3));
            Assert.Equal(secondMapped ? LeafDescriptor(pa + 4 * K, 3, "rwx") : 0UL, EntryAt(pgt, ipa + 4 * K, 3));
        }
    }

    // ---------------------------------------------------------------- refusals: -ERANGE, -EINVAL, -ENOMEM

    /// <summary>A table with a writable 2M block at IPA 0 and one at the very top, young or old: any op that
    /// ignored the limit, or wrapped around to IPA 0, would visibly change one of them.</summary>
    private static (Stage2PageTable Pgt, ulong Limit) TableWithBlocksAtBothEnds(bool old)
    {
        var pgt = NewTable("4K", 40);
        ulong limit = pgt.Geometry.IpaLimit;
        Assert.Equal(0, pgt.Map(0, 2 * M, 1UL << 40, "rw"));
        Assert.Equal(0, pgt.Map(limit - 2 * M, 2 * M, (1UL << 40) + 2 * M, "rw"));
        if (old)
            Assert.True(pgt.TestClearYoung(0, limit, mkold: true));
        return (pgt, limit);
    }

    [Theory]
    [InlineData("map")]
    [InlineData("unmap")]
    [InlineData("wrprotect")]
    [InlineData("split")]
    [InlineData("relax")]
    [InlineData("mkold")]
    [InlineData("mkyoung")]
    public void Op_reaching_past_the_ipa_size_is_ERANGE_and_changes_nothing(string op)
    {
        // Old blocks, so that a wrongly accepted mkyoung would show; young ones for mkold.
        var (pgt, limit) = TableWithBlocksAtBothEnds(old: op != "mkold");
        ulong bottom = EntryAt(pgt, 0, 2), top = EntryAt(pgt, limit - 2 * M, 2);
        Stage2Counters before = pgt.Counters;
        var cache = new MemoryCache(1024, 1024);

        int ret = op switch
        {
            "map" => pgt.Map(limit - 2 * M, 4 * M, 1UL << 41, P("rwx"), cache),
            "unmap" => pgt.Unmap(limit - 4 * K, 8 * K),
            "wrprotect" => pgt.WrProtect(limit - 4 * K, 8 * K),
            "split" => pgt.Split(limit - 4 * K, 8 * K, cache),
            "relax" => pgt.RelaxPerms(limit, P("rwx")),
            "mkold" => pgt.TestClearYoung(limit - 4 * K, 8 * K, mkold: true) ? 1 : -Errno.ERANGE,
            _ => Mkyoung(pgt, limit),
        };

        Assert.Equal(-Errno.ERANGE, ret);
        Assert.Equal(bottom, EntryAt(pgt, 0, 2));
        Assert.Equal(top, EntryAt(pgt, limit - 2 * M, 2));
        AssertCounters(pgt.Counters - before);
        Assert.Equal(1024, cache.Objects);

        static int Mkyoung(Stage2PageTable pgt, ulong ipa)
        {
            pgt.MkYoung(ipa); // no error code: the walk refuses and nothing may change
            return -Errno.ERANGE;
        }
    }

    [Fact]
    public void Map_ending_exactly_at_the_ipa_size_is_allowed()
    {
        var pgt = NewTable("4K", 32);
        ulong limit = pgt.Geometry.IpaLimit;
        Assert.Equal(4UL * G, limit);

        Assert.Equal(0, pgt.Map(limit - 2 * M, 2 * M, 1UL << 40, "rw"));

        // 4K with 32-bit IPA starts at level 2 (four concatenated root pages): the top block is in the last one.
        Assert.Equal(LeafDescriptor(1UL << 40, 2, "rw"), EntryAt(pgt, limit - 2 * M, 2));
        Assert.Equal(3, pgt.Geometry.RootPageIndex(limit - 2 * M));
    }

    [Theory]
    [InlineData("rwxd", 0x20_0000UL)]
    [InlineData("xn", 0x20_0000UL)]
    [InlineData("rwxn", 0x20_0000UL)]
    [InlineData("rwxd", 1UL << 40)] // -EINVAL wins over -ERANGE: stage2_set_prot_attr runs before the walk
    public void Refused_prot_is_EINVAL_and_changes_nothing(string prot, ulong ipa)
    {
        var pgt = NewTable("4K", 40);
        Stage2Counters before = pgt.Counters;

        Assert.Equal(-Errno.EINVAL, pgt.Map(ipa, 2 * M, 1UL << 40, P(prot), MemoryCache.Unbounded()));

        AssertCounters(pgt.Counters - before);
        Assert.Empty(Leaves(pgt));
    }

    [Fact]
    public void Device_together_with_normal_nc_is_EINVAL()
    {
        var pgt = NewTable("4K", 40);

        Assert.Equal(-Errno.EINVAL, pgt.Map(0, 4 * K, 1UL << 40, Prot.RW | Prot.Device | Prot.NormalNC, MemoryCache.Unbounded()));

        Assert.Empty(Leaves(pgt));
    }

    [Fact]
    public void Map_needing_a_table_page_from_an_empty_cache_is_ENOMEM_and_installs_nothing()
    {
        foreach (MemoryCache? cache in new[] { new MemoryCache(4, 0), null })
        {
            var pgt = NewTable("4K", 40);
            Stage2Counters before = pgt.Counters;

            Assert.Equal(-Errno.ENOMEM, pgt.Map(0x20_0000, 4 * K, 1UL << 40, P("rw"), cache));

            AssertCounters(pgt.Counters - before);
            Translation t = pgt.Translate(0x20_0000, AccessKind.Read);
            Assert.Equal((TranslationOutcome.TranslationFault, 1), (t.Outcome, t.Level));
        }
    }

    [Fact]
    public void Block_map_needing_no_table_page_succeeds_with_an_empty_cache()
    {
        var pgt = NewTable("4K", 40);

        Assert.Equal(0, pgt.Map(G, G, 1UL << 40, P("rw"), new MemoryCache(4, 0)));

        Assert.Equal(LeafDescriptor(1UL << 40, 1, "rw"), EntryAt(pgt, G, 1));
    }

    [Fact]
    public void Cache_running_out_half_way_down_leaves_the_new_empty_table_and_ENOMEM()
    {
        var pgt = NewTable("4K", 40);
        var cache = new MemoryCache(1, 1); // a 4K page at L3 under a level-1 root needs two pages

        Assert.Equal(-Errno.ENOMEM, pgt.Map(0x20_0000, 4 * K, 1UL << 40, P("rw"), cache));

        Assert.Equal(0, cache.Objects);
        Assert.Equal(1, pgt.LiveTablePages(2));
        Assert.Equal(0, RefCountAt(pgt, 0x20_0000, 2)); // linked, but holding nothing yet
        Assert.Empty(Leaves(pgt));
        AssertConsistent(pgt);

        cache.TopUp(1);
        Assert.Equal(0, pgt.Map(0x20_0000, 4 * K, 1UL << 40, P("rw"), cache));
        Assert.Equal(0, cache.Objects);
        Assert.Equal(LeafDescriptor(1UL << 40, 3, "rw"), EntryAt(pgt, 0x20_0000, 3));
        AssertConsistent(pgt);
    }
}
