using Stage2Lab.Arch;

namespace Stage2Lab.PageTables;

/// <summary>TLB invalidation and cache maintenance, as the hypervisor issues them.</summary>
public sealed partial class Stage2PageTable
{
    /// <summary>TLBI_TTL_UNKNOWN: an invalidation without a level hint.</summary>
    internal const int TtlUnknown = -1;

    /// <summary>MAX_TLBI_RANGE_PAGES = __TLBI_RANGE_PAGES(31, 3) (asm/tlbflush.h).</summary>
    internal const ulong MaxTlbiRangePages = 32UL << 16;

    /// <summary>A TLB model told of every invalidation below (null: nobody listens, nothing is called).</summary>
    public ITlbInvalidationListener? TlbListener { get; set; }

    /// <summary>__kvm_tlb_flush_vmid_ipa (hyp/vhe/tlb.c): TLBI IPAS2E1IS with the level hint, then VMALLE1IS.</summary>
    internal void FlushVmidIpa(ulong ipa, int level)
    {
        if (TlbListener is { } tlb)
        {
            tlb.InvalidateStage2Ipa(ipa, level);
            tlb.InvalidateStage1All();
        }
        _counters.Add(level switch
        {
            0 => Stage2Counter.TlbiIpas2e1isL0,
            1 => Stage2Counter.TlbiIpas2e1isL1,
            2 => Stage2Counter.TlbiIpas2e1isL2,
            3 => Stage2Counter.TlbiIpas2e1isL3,
            _ => Stage2Counter.TlbiIpas2e1isNoHint,
        });
        _counters.Add(Stage2Counter.TlbiVmalle1is);
    }

    /// <summary>__kvm_tlb_flush_vmid_ipa_nsh: the local (non-shareable) variant used after relax_perms.</summary>
    internal void FlushVmidIpaLocal(ulong ipa, int level)
    {
        if (TlbListener is { } tlb)
        {
            tlb.InvalidateStage2Ipa(ipa, level);
            tlb.InvalidateStage1All();
        }
        _counters.Add(Stage2Counter.TlbiIpas2e1);
        _counters.Add(Stage2Counter.TlbiVmalle1);
    }

    /// <summary>__kvm_tlb_flush_vmid: TLBI VMALLS12E1IS, every stage-1 and stage-2 entry of the VMID.</summary>
    internal void FlushVmid()
    {
        TlbListener?.InvalidateVmid();
        _counters.Add(Stage2Counter.TlbiVmalls12e1is);
    }

    /// <summary>
    /// kvm_tlb_flush_vmid_range (v6.19 pgtable.c): without FEAT_TLBIRANGE the whole VMID; with it, chunks of
    /// MAX_TLBI_RANGE_PAGES each issued as __flush_s2_tlb_range_op (one RIPAS2E1IS per non-zero scale digit,
    /// a single IPAS2E1IS for a last odd page), then VMALLE1IS.
    /// </summary>
    internal void FlushVmidRange(ulong ipa, ulong sizeBytes)
    {
        if (!Features.RangeTlbi)
        {
            FlushVmid();
            return;
        }
        ulong pages = sizeBytes >> Granule.PageShift;
        while (pages > 0)
        {
            ulong chunk = Math.Min(pages, MaxTlbiRangePages);
            CountRangeOps(chunk);
            _counters.Add(Stage2Counter.TlbiVmalle1is);
            if (TlbListener is { } tlb)
            {
                tlb.InvalidateStage2Range(ipa, chunk << Granule.PageShift);
                tlb.InvalidateStage1All();
            }
            ipa += chunk << Granule.PageShift;
            pages -= chunk;
        }
    }

    private void CountRangeOps(ulong pages)
    {
        _counters.Add(Stage2Counter.TlbiRangePages, (long)pages);
        int scale = 3;
        while (pages > 0)
        {
            if (pages == 1)
            {
                _counters.Add(Stage2Counter.TlbiIpas2e1isNoHint);
                pages = 0;
                break;
            }
            // __TLBI_RANGE_NUM(pages, scale) = (min(pages, __TLBI_RANGE_PAGES(31, scale)) >> (5 * scale + 1)) - 1
            int shift = 5 * scale + 1;
            long num = (long)(Math.Min(pages, 32UL << shift) >> shift) - 1;
            if (num >= 0)
            {
                _counters.Add(Stage2Counter.TlbiRange);
                pages -= (ulong)(num + 1) << shift;
            }
            scale--;
            if (scale < 0 && pages > 1)
                scale = 0;
        }
    }

    /// <summary>clean_dcache_guest_page (mmu.c): clean+invalidate to PoC, skipped entirely with FWB;
    /// <paramref name="times"/> calls of the same size at once.</summary>
    internal void CleanDcache(ulong sizeBytes, long times = 1)
    {
        if (_fwb)
            return;
        _counters.Add(Stage2Counter.DcacheCleanOps, times);
        _counters.Add(Stage2Counter.DcacheCleanBytes, (long)sizeBytes * times);
    }

    /// <summary>invalidate_icache_guest_page (mmu.c): icache_inval_pou, a bare ISB when the CPU has DIC;
    /// <paramref name="times"/> calls of the same size at once.</summary>
    internal void InvalidateIcache(ulong sizeBytes, long times = 1)
    {
        if (_dic)
            return;
        _counters.Add(Stage2Counter.IcacheInvalOps, times);
        _counters.Add(Stage2Counter.IcacheInvalBytes, (long)sizeBytes * times);
    }

    /// <summary>stage2_pte_cacheable: a valid leaf whose MemAttr is Normal write-back for this FWB setting.</summary>
    internal bool IsCacheable(ulong pte) =>
        (pte & Descriptor.ValidBit) != 0
        && ((pte & Descriptor.MemAttrMask) >> Descriptor.MemAttrShift) == _normalMemAttr;

    /// <summary>
    /// stage2_try_break_pte, for walks with exclusive access: write the locked marker, invalidate what the
    /// old entry could have cached (the whole span for a table, the IPA for a leaf), drop its reference.
    /// </summary>
    internal void BreakPte(ref VisitContext ctx)
    {
        ulong old = ctx.Old;
        WritePte(ref ctx, Descriptor.LockedMarker);
        bool valid = (old & Descriptor.ValidBit) != 0;
        bool isTable = new Descriptor(old).IsTable(ctx.Level);
        if ((ctx.Flags & WalkFlags.SkipBbmTlbi) == 0)
        {
            if (isTable)
            {
                ulong span = Granule.LevelSize(ctx.Level);
                FlushVmidRange(ctx.Addr & ~(span - 1), span);
            }
            else if (valid)
            {
                FlushVmidIpa(ctx.Addr, ctx.Level);
            }
        }
        if (old != 0)
            PutEntry(ref ctx);
        if (valid)
        {
            _counters.Add(Stage2Counter.BreakBeforeMake);
            if (!isTable)
                _counters.Add(Stage2Counter.LeavesRemoved);
        }
    }

    /// <summary>stage2_make_pte: take a reference for a non-zero entry and publish it.</summary>
    internal void MakePte(ref VisitContext ctx, ulong value)
    {
        if (value != 0)
            GetEntry(ref ctx);
        WritePte(ref ctx, value);
        if (new Descriptor(value).IsLeaf(ctx.Level))
            _counters.Add(Stage2Counter.LeavesInstalledL0 + ctx.Level);
    }
}
