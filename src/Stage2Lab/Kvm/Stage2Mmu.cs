using Stage2Lab.Arch;
using Stage2Lab.PageTables;

namespace Stage2Lab.Kvm;

/// <summary>
/// struct kvm_s2_mmu: the VM's stage-2 page table (mmu->pgt), the page caches its walks draw from, and the range
/// helpers of arch/arm64/kvm/mmu.c that every caller goes through (stage2_apply_range and its users). One vCPU is
/// modelled, so the vCPU's mmu_page_cache lives here too.
/// </summary>
public sealed class Stage2Mmu
{
    public Stage2Mmu(Granule granule, int ipaBits, CpuFeatures features, Stage2ApiRevision api, bool rangeFlushOfMemslots, ulong splitChunkBytes)
    {
        Pgt = new Stage2PageTable(granule, ipaBits, features, api);
        RangeFlushOfMemslots = rangeFlushOfMemslots;
        SplitChunkBytes = splitChunkBytes;
        FaultCache = MemoryCache.Unbounded();
        SplitCache = new MemoryCache((long)SplitPagesFor(splitChunkBytes), 0);
    }

    /// <summary>mmu->pgt.</summary>
    public Stage2PageTable Pgt { get; }

    public Granule Granule => Pgt.Granule;

    public CpuFeatures Features => Pgt.Features;

    /// <summary>kvm_phys_size: the IPA space size.</summary>
    public ulong IpaLimit => Pgt.Geometry.IpaLimit;

    /// <summary>vcpu->arch.mmu_page_cache, topped up before each fault (kvm_mmu_topup_memory_cache).</summary>
    public MemoryCache FaultCache { get; }

    /// <summary>mmu->split_page_cache, used by eager splitting.</summary>
    public MemoryCache SplitCache { get; }

    /// <summary>mmu->split_page_chunk_size (KVM_CAP_ARM_EAGER_SPLIT_CHUNK_SIZE, 6.5+): 0 disables eager splitting.</summary>
    public ulong SplitChunkBytes { get; }

    /// <summary>kvm_flush_remote_tlbs_memslot flushes a range (6.6+) rather than the whole VMID.</summary>
    public bool RangeFlushOfMemslots { get; }

    /// <summary>The largest block KVM maps at stage 2: kvm_granule_size(KVM_PGTABLE_MIN_BLOCK_LEVEL).</summary>
    public ulong MaxBlockSizeBytes => Granule.LevelSize(Granule.MinBlockLevel);

    /// <summary>kvm_stage2_unmap_range / __unmap_stage2_range: stage2_apply_range(kvm_pgtable_stage2_unmap).</summary>
    public void UnmapRange(ulong ipa, ulong sizeBytes)
    {
        var op = new UnmapOp();
        ApplyRange(ipa, ipa + sizeBytes, MaxBlockSizeBytes, ref op);
    }

    /// <summary>stage2_wp_range: stage2_apply_range_resched(kvm_pgtable_stage2_wrprotect); callers flush TLBs.</summary>
    public void WriteProtectRange(ulong ipa, ulong end)
    {
        var op = new WriteProtectOp();
        ApplyRange(ipa, end, MaxBlockSizeBytes, ref op);
    }

    /// <summary>stage2_flush_memslot (≤ 5.13): stage2_apply_range_resched(kvm_pgtable_stage2_flush).</summary>
    public void FlushRange(ulong ipa, ulong end)
    {
        var op = new FlushOp();
        ApplyRange(ipa, end, MaxBlockSizeBytes, ref op);
    }

    /// <summary>kvm_flush_remote_tlbs_range (6.6+: a range invalidation) or kvm_flush_remote_tlbs (the whole VMID).</summary>
    public void FlushRemoteTlbs(ulong ipa, ulong sizeBytes)
    {
        if (RangeFlushOfMemslots)
            Pgt.FlushVmidRange(ipa, sizeBytes);
        else
            Pgt.FlushVmid();
    }

    /// <summary>kvm_flush_remote_tlbs: the whole VMID (after aging).</summary>
    public void FlushAllTlbs() => Pgt.FlushVmid();

    /// <summary>kvm_mmu_wp_memory_region: write-protect a whole slot, then flush its TLB entries.</summary>
    public void WriteProtectMemslot(Memslot slot)
    {
        WriteProtectRange(slot.Ipa, slot.IpaEnd);
        FlushRemoteTlbs(slot.Ipa, slot.SizeBytes);
    }

    /// <summary>
    /// kvm_mmu_split_huge_pages (6.5+): eager splitting in split_page_chunk_size chunks, topping up the split cache
    /// before a chunk when it holds fewer pages than a chunk may need; best effort, stops at the first error.
    /// </summary>
    public int SplitHugePages(ulong ipa, ulong end)
    {
        if (SplitChunkBytes == 0)
            return 0;
        var op = new SplitOp(SplitCache, (long)SplitPagesFor(SplitChunkBytes));
        return ApplyRange(ipa, end, SplitChunkBytes, ref op);
    }

    /// <summary>kvm_mmu_split_nr_page_tables: the pages a chunk can need when every block in it is split.</summary>
    private ulong SplitPagesFor(ulong rangeBytes)
    {
        if (rangeBytes == 0)
            return 0;
        ulong n = 0;
        if (Granule.MinBlockLevel < 2)
            n += (rangeBytes + Granule.LevelSize(1) - 1) / Granule.LevelSize(1);
        n += (rangeBytes + Granule.LevelSize(2) - 1) / Granule.LevelSize(2);
        return n;
    }

    /// <summary>
    /// stage2_apply_range: one page-table walk per chunk, the chunks cut at <paramref name="chunkBytes"/>
    /// boundaries (stage2_range_addr_end) so the MMU lock can be dropped between them; stops at the first error.
    /// </summary>
    private int ApplyRange<TOp>(ulong ipa, ulong end, ulong chunkBytes, ref TOp op)
        where TOp : struct, IRangeOp
    {
        for (ulong addr = ipa; addr < end;)
        {
            ulong boundary = (addr + chunkBytes) & ~(chunkBytes - 1);
            ulong next = boundary - 1 < end - 1 ? boundary : end;
            int ret = op.Apply(Pgt, addr, next - addr);
            if (ret != 0)
                return ret;
            addr = next;
        }
        return 0;
    }

    /// <summary>The page-table operation stage2_apply_range calls on each chunk.</summary>
    private interface IRangeOp
    {
        int Apply(Stage2PageTable pgt, ulong ipa, ulong sizeBytes);
    }

    private readonly struct UnmapOp : IRangeOp
    {
        public int Apply(Stage2PageTable pgt, ulong ipa, ulong sizeBytes) => pgt.Unmap(ipa, sizeBytes);
    }

    private readonly struct WriteProtectOp : IRangeOp
    {
        public int Apply(Stage2PageTable pgt, ulong ipa, ulong sizeBytes) => pgt.WrProtect(ipa, sizeBytes);
    }

    private readonly struct FlushOp : IRangeOp
    {
        public int Apply(Stage2PageTable pgt, ulong ipa, ulong sizeBytes) => pgt.Flush(ipa, sizeBytes);
    }

    private readonly struct SplitOp(MemoryCache cache, long minPages) : IRangeOp
    {
        public int Apply(Stage2PageTable pgt, ulong ipa, ulong sizeBytes)
        {
            cache.TopUp(minPages);
            return pgt.Split(ipa, sizeBytes, cache);
        }
    }
}
