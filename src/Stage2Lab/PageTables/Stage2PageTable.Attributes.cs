using Stage2Lab.Arch;

namespace Stage2Lab.PageTables;

/// <summary>Leaf attribute updates: wrprotect, relax_perms, mkyoung, test_clear_young, flush.</summary>
public sealed partial class Stage2PageTable
{
    /// <summary>kvm_pgtable_stage2_wrprotect: clear S2AP write on every leaf the range touches (whole blocks).
    /// The caller flushes TLBs afterwards (kvm_flush_remote_tlbs_memslot).</summary>
    public int WrProtect(ulong ipa, ulong sizeBytes) =>
        UpdateLeafAttrs(ipa, sizeBytes, 0, Descriptor.S2apW, WalkFlags.None, out _, out _);

    /// <summary>
    /// kvm_pgtable_stage2_relax_perms: add R/W to the leaf mapping ipa. Execute: in the FEAT_XNX era (v6.x)
    /// XN becomes exactly what prot says; 5.x kernels only ever cleared XN. Then a local TLBI of that IPA.
    /// </summary>
    public int RelaxPerms(ulong ipa, Prot prot, WalkFlags flags = WalkFlags.None)
    {
        ulong set = 0, clr = 0;
        if ((prot & Prot.R) != 0)
            set |= Descriptor.S2apR;
        if ((prot & Prot.W) != 0)
            set |= Descriptor.S2apW;

        if (Api == Stage2ApiRevision.Current)
        {
            ulong xn = (prot & Prot.X) != 0 ? 0 : Descriptor.XnNone;
            set |= xn & Descriptor.XnMask;
            clr |= ~xn & Descriptor.XnMask;
            int ret = UpdateLeafAttrs(ipa, 1, set, clr, flags, out _, out int level);
            if (ret == 0 || ret == -Errno.EAGAIN)
                FlushVmidIpaLocal(ipa, ret == 0 ? level : TtlUnknown);
            return ret;
        }
        else
        {
            // 5.x kvm_pgtable_stage2_relax_perms: X only clears XN; the flush is the shareable one.
            if ((prot & Prot.X) != 0)
                clr |= Descriptor.XnMask;
            int ret = UpdateLeafAttrs(ipa, 1, set, clr, flags, out _, out int level);
            if (ret == 0)
                FlushVmidIpa(ipa, level);
            return ret;
        }
    }

    /// <summary>kvm_pgtable_stage2_mkyoung: set the access flag of the leaf mapping ipa.</summary>
    public void MkYoung(ulong ipa, WalkFlags flags = WalkFlags.None) =>
        UpdateLeafAttrs(ipa, 1, Descriptor.AccessFlag, 0, flags, out _, out _);

    /// <summary>kvm_pgtable_stage2_test_clear_young: whether any leaf in the range was young; with
    /// <paramref name="mkold"/> clear their access flags (no TLBI: the MMU notifier core does that).</summary>
    public bool TestClearYoung(ulong ipa, ulong sizeBytes, bool mkold)
    {
        var visitor = new AgeVisitor(this, mkold);
        Walker.Walk(this, ipa, sizeBytes, WalkFlags.Leaf, ref visitor);
        return visitor.Young;
    }

    /// <summary>kvm_pgtable_stage2_flush: clean every cacheable leaf of the range to PoC (nothing with FWB).</summary>
    public int Flush(ulong ipa, ulong sizeBytes)
    {
        if (Features.Fwb)
            return 0;
        var visitor = new FlushVisitor(this);
        return Walker.Walk(this, ipa, sizeBytes, WalkFlags.TablePre | WalkFlags.Leaf, ref visitor);
    }

    /// <summary>stage2_update_leaf_attrs: returns the last leaf seen and its level.</summary>
    private int UpdateLeafAttrs(ulong ipa, ulong sizeBytes, ulong attrSet, ulong attrClr, WalkFlags flags, out ulong lastPte, out int lastLevel)
    {
        const ulong attrMask = Descriptor.LeafAttrLo | Descriptor.LeafAttrHi;
        var visitor = new AttrVisitor(this, attrSet & attrMask, attrClr & attrMask);
        int ret = Walker.Walk(this, ipa, sizeBytes, flags | WalkFlags.Leaf, ref visitor);
        lastPte = visitor.Pte;
        lastLevel = visitor.Level;
        return ret;
    }

    internal struct AttrVisitor : IWalkVisitor
    {
        private readonly Stage2PageTable _pgt;
        private readonly ulong _set;
        private readonly ulong _clr;

        public AttrVisitor(Stage2PageTable pgt, ulong set, ulong clr)
        {
            _pgt = pgt;
            _set = set;
            _clr = clr;
            Pte = 0;
            Level = 0;
        }

        public ulong Pte;
        public int Level;

        /// <summary>stage2_attr_walker.</summary>
        public int Visit(ref VisitContext ctx, WalkFlags visit)
        {
            ulong old = ctx.Old;
            if ((old & Descriptor.ValidBit) == 0)
                return -Errno.EAGAIN;
            Level = ctx.Level;
            Pte = old;
            ulong pte = (old & ~_clr) | _set;
            if (pte != old)
            {
                // Invalidate the I-cache before a leaf becomes executable.
                if (new Descriptor(pte).Executable && !new Descriptor(old).Executable)
                    _pgt.InvalidateIcache(_pgt.Granule.LevelSize(ctx.Level));
                _pgt.WritePte(ref ctx, pte);
            }
            return 0;
        }
    }

    internal struct AgeVisitor : IWalkVisitor
    {
        private readonly Stage2PageTable _pgt;
        private readonly bool _mkold;

        public AgeVisitor(Stage2PageTable pgt, bool mkold)
        {
            _pgt = pgt;
            _mkold = mkold;
            Young = false;
        }

        public bool Young;

        /// <summary>stage2_age_walker.</summary>
        public int Visit(ref VisitContext ctx, WalkFlags visit)
        {
            ulong old = ctx.Old;
            ulong pte = old & ~Descriptor.AccessFlag;
            if ((old & Descriptor.ValidBit) == 0 || pte == old)
                return 0;
            Young = true;
            if (_mkold)
                _pgt.WritePte(ref ctx, pte);
            return 0;
        }
    }

    internal readonly struct FlushVisitor : IWalkVisitor
    {
        private readonly Stage2PageTable _pgt;

        public FlushVisitor(Stage2PageTable pgt) => _pgt = pgt;

        /// <summary>stage2_flush_walker, on each leaf; the visits of a last-level table's pages (all of one
        /// size) are added up from its table entry, and the walk steps over it.</summary>
        public int Visit(ref VisitContext ctx, WalkFlags visit)
        {
            if (visit == WalkFlags.Leaf)
            {
                if (_pgt.IsCacheable(ctx.Old))
                    _pgt.CleanDcache(_pgt.Granule.LevelSize(ctx.Level));
                return 0;
            }
            if (ctx.Level != Granule.LastLevel - 1)
                return 0;
            ctx.SkipChildren = true;
            long cacheable = 0;
            foreach (ulong pte in _pgt.LastLevelEntries(ref ctx))
            {
                if (_pgt.IsCacheable(pte))
                    cacheable++;
            }
            if (cacheable != 0)
                _pgt.CleanDcache(_pgt.Granule.PageSize, cacheable);
            return 0;
        }
    }
}
