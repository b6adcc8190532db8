using Stage2Lab.Arch;

namespace Stage2Lab.PageTables;

/// <summary>kvm_pgtable_stage2_split (6.5+, eager page splitting).</summary>
public sealed partial class Stage2PageTable
{
    /// <summary>
    /// kvm_pgtable_stage2_split: replace every block the range touches by a table of smaller leaves — down to
    /// pages when <paramref name="cache"/> holds enough pages for the whole subtree, one level at a time
    /// otherwise. The new leaves take only R/W/X from the block (kvm_pgtable_stage2_pte_prot): memory type
    /// Normal write-back, AF set.
    /// </summary>
    public int Split(ulong ipa, ulong sizeBytes, MemoryCache cache)
    {
        var visitor = new SplitVisitor(this, cache);
        return Walker.Walk(this, ipa, sizeBytes, WalkFlags.Leaf, ref visitor);
    }

    internal readonly struct SplitVisitor : IWalkVisitor
    {
        private readonly Stage2PageTable _pgt;
        private readonly MemoryCache _cache;

        public SplitVisitor(Stage2PageTable pgt, MemoryCache cache)
        {
            _pgt = pgt;
            _cache = cache;
        }

        public int Visit(ref VisitContext ctx, WalkFlags visit) => _pgt.SplitEntry(ref ctx, _cache);
    }

    /// <summary>stage2_block_get_nr_page_tables: pages needed to turn a block at this level into pages.</summary>
    private int PagesToSplitDown(int level) => level switch
    {
        1 => Granule.EntriesPerTable + 1,
        2 => 1,
        _ => 0,
    };

    /// <summary>stage2_split_walker.</summary>
    private int SplitEntry(ref VisitContext ctx, MemoryCache cache)
    {
        int level = ctx.Level;
        ulong pte = ctx.Old;
        if (level == Granule.LastLevel || (pte & Descriptor.ValidBit) == 0)
            return 0;

        long needed = PagesToSplitDown(level);
        bool forcePte;
        if (cache.Objects >= needed)
        {
            forcePte = true;
        }
        else
        {
            // Not enough for the whole subtree: one table of the next level, split further by the walk.
            forcePte = false;
            needed = 1;
        }
        if (cache.Objects < needed)
            return -Errno.ENOMEM;

        ulong phys = new Descriptor(pte).OutputAddress(Granule);
        Prot prot = new Descriptor(pte).LeafProt;
        int ret = CreateUnlinked(phys, level, prot, cache, forcePte, out int childId);
        if (ret != 0)
            return ret;

        BreakPte(ref ctx);
        MakePte(ref ctx, Descriptor.Table(Pool.PaOf(childId), Granule).Raw);
        return 0;
    }

    /// <summary>
    /// kvm_pgtable_stage2_create_unlinked: build, outside the live table, a table mapping one entry's span of
    /// <paramref name="level"/> from <paramref name="phys"/> (no TLBI or cache maintenance: nobody sees it yet).
    /// </summary>
    internal int CreateUnlinked(ulong phys, int level, Prot prot, MemoryCache cache, bool forcePte, out int tableId)
    {
        tableId = -1;
        ulong span = Granule.LevelSize(level);
        if ((phys & (span - 1)) != 0)
            return -Errno.EINVAL;
        int ret = LeafAttributes.FromProt(prot, Features.Fwb, out ulong attr);
        if (ret != 0)
            return ret;
        if (!cache.TryTake())
            return -Errno.ENOMEM;
        int id = AllocateTable(level + 1);
        var visitor = new MapVisitor(this, phys, attr, forcePte, cache);
        ret = Walker.WalkUnlinked(this, id, level + 1, span, WalkFlags.Leaf | WalkFlags.SkipBbmTlbi | WalkFlags.SkipCmo, ref visitor);
        if (ret != 0)
        {
            FreeUnlinkedTable(id, level);
            return ret;
        }
        tableId = id;
        return 0;
    }
}
