using Stage2Lab.Arch;
using Stage2Lab.PageTables;

namespace Stage2Lab.Kvm;

/// <summary>
/// struct kvm_s2_mmu: the VM's stage-2 page table (mmu->pgt), the page caches its walks draw from, and the range
/// helpers of arch/arm64/kvm/mmu.c that every caller goes through (stage2_apply_range and its users). One vCPU is
/// modelled, so the vCPU's mmu_page_cache lives here too. The VM's flavor picks what the range helpers do, as
/// 7.x's kvm_vm_s2_ops do: a protected guest's stage 2 is never unmapped by the host, pKVM cannot split blocks.
/// A shadow stage 2 (<see cref="IsNested"/>) also keeps the reverse map of what it maps from which L1 IPAs.
/// </summary>
public sealed class Stage2Mmu
{
    private readonly Dictionary<ulong, GuestS2Mapping> _guestS2Mappings = new();

    public Stage2Mmu(Granule granule, int ipaBits, CpuFeatures features, Stage2ApiRevision api, bool rangeFlushOfMemslots, ulong splitChunkBytes,
        VmFlavor flavor = VmFlavor.Kvm, bool isNested = false, TablePageCache? pageCache = null)
    {
        Pgt = new Stage2PageTable(granule, ipaBits, features, api, pageCache);
        RangeFlushOfMemslots = rangeFlushOfMemslots;
        SplitChunkBytes = splitChunkBytes;
        Flavor = flavor;
        IsNested = isNested;
        FaultCache = MemoryCache.Unbounded();
        SplitCache = new MemoryCache((long)SplitPagesFor(splitChunkBytes), 0);
    }

    /// <summary>kvm->arch.vm_flavor.</summary>
    public VmFlavor Flavor { get; }

    /// <summary>kvm_is_nested_s2_mmu: a shadow stage 2 for an L2 guest, not the VM's canonical one.</summary>
    public bool IsNested { get; }

    /// <summary>How many times a fault topped the vCPU's memcache up (kvm_mmu_topup_memory_cache / topup_hyp_memcache).</summary>
    public long FaultCacheTopUps { get; private set; }

    /// <summary>kvm_mmu_cache_min_pages: one page per level below the root (kvm_stage2_levels - 1).</summary>
    public long MinCachePages => Pgt.Geometry.Levels - 1;

    /// <summary>kvm_guest_s2_mapping records of a shadow stage 2 (kvm_record_guest_s2_mapping), by L2 IPA.</summary>
    public int GuestS2MappingCount => _guestS2Mappings.Count;

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

    /// <summary>
    /// kvm_stage2_unmap_range / __unmap_stage2_range: stage2_apply_range(kvm_pgtable_stage2_unmap). 7.x: a
    /// protected guest's stage 2 is the hypervisor's (no_stage2_unmap_range: nothing happens); a shadow stage 2
    /// drops the reverse-map records of what it unmapped (kvm_pgtable_stage2_unmap_tracked).
    /// </summary>
    public void UnmapRange(ulong ipa, ulong sizeBytes)
    {
        if (Flavor == VmFlavor.ProtectedPkvm)
            return;
        var op = new UnmapOp();
        ApplyRange(ipa, ipa + sizeBytes, MaxBlockSizeBytes, ref op);
        if (IsNested)
            RemoveGuestS2Mappings(ipa, ipa + sizeBytes);
    }

    /// <summary>kvm->arch.nested_mmus: the shadow stage 2 of the VM's L2 guest (the model has one), or null.</summary>
    public Stage2Mmu? Shadow { get; internal set; }

    /// <summary>
    /// kvm_unmap_gfn_range / kvm_arch_flush_shadow_memslot: the canonical range is unmapped, then (7.x,
    /// kvm_nested_unmap_cipa_range) every shadow leaf built from it.
    /// </summary>
    public void UnmapGfnRange(ulong ipa, ulong sizeBytes)
    {
        UnmapRange(ipa, sizeBytes);
        Shadow?.UnmapCanonicalRange(ipa, sizeBytes);
    }

    /// <summary>topup_mmu_memcache: the vCPU's memcache (the hyp memcache under pKVM) gets kvm_mmu_cache_min_pages.</summary>
    public void TopUpFaultCache()
    {
        FaultCacheTopUps++;
        FaultCache.TopUp(MinCachePages);
    }

    /// <summary>
    /// kvm_record_guest_s2_mapping (7.x): a shadow-stage-2 leaf at <paramref name="l2Ipa"/> maps the L1 (canonical)
    /// range at <paramref name="canonicalIpa"/>, so an unmap of that canonical range reaches it.
    /// </summary>
    public void RecordGuestS2Mapping(ulong canonicalIpa, ulong l2Ipa, ulong sizeBytes) =>
        _guestS2Mappings[l2Ipa] = new GuestS2Mapping(canonicalIpa, l2Ipa, sizeBytes);

    /// <summary>
    /// kvm_nested_unmap_cipa_range (7.x): the canonical range [ipa, ipa+size) went away (MMU notifier, memslot
    /// delete or move), so every shadow leaf recorded as mapping part of it is unmapped.
    /// </summary>
    public void UnmapCanonicalRange(ulong ipa, ulong sizeBytes)
    {
        if (_guestS2Mappings.Count == 0)
            return;
        ulong end = ipa + sizeBytes;
        List<GuestS2Mapping>? hit = null;
        foreach (GuestS2Mapping m in _guestS2Mappings.Values)
        {
            if (m.CanonicalIpa < end && ipa < m.CanonicalIpa + m.SizeBytes)
                (hit ??= new List<GuestS2Mapping>()).Add(m);
        }
        if (hit is null)
            return;
        foreach (GuestS2Mapping m in hit.OrderBy(m => m.L2Ipa))
            UnmapRange(m.L2Ipa, m.SizeBytes);
    }

    private void RemoveGuestS2Mappings(ulong l2Ipa, ulong l2End)
    {
        if (_guestS2Mappings.Count == 0)
            return;
        List<ulong>? gone = null;
        foreach (GuestS2Mapping m in _guestS2Mappings.Values)
        {
            if (m.L2Ipa < l2End && l2Ipa < m.L2Ipa + m.SizeBytes)
                (gone ??= new List<ulong>()).Add(m.L2Ipa);
        }
        if (gone is null)
            return;
        foreach (ulong key in gone)
            _guestS2Mappings.Remove(key);
    }

    /// <summary>struct kvm_guest_s2_mapping: one shadow leaf and the canonical range it was built from.</summary>
    private readonly record struct GuestS2Mapping(ulong CanonicalIpa, ulong L2Ipa, ulong SizeBytes);

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

    /// <summary>
    /// kvm_mmu_wp_memory_region: write-protect a whole slot (and, kvm_nested_s2_wp, every shadow stage 2 whole),
    /// then flush its TLB entries.
    /// </summary>
    public void WriteProtectMemslot(Memslot slot)
    {
        WriteProtectRange(slot.Ipa, slot.IpaEnd);
        if (Shadow is { } shadow)
            shadow.WriteProtectRange(0, shadow.IpaLimit);
        FlushRemoteTlbs(slot.Ipa, slot.SizeBytes);
    }

    /// <summary>
    /// kvm_mmu_split_huge_pages (6.5+): eager splitting in split_page_chunk_size chunks, topping up the split cache
    /// before a chunk when it holds fewer pages than a chunk may need; best effort, stops at the first error.
    /// Under pKVM the split is pkvm_pgtable_stage2_split, which refuses (-EINVAL): nothing is split.
    /// </summary>
    public int SplitHugePages(ulong ipa, ulong end)
    {
        if (SplitChunkBytes == 0)
            return 0;
        if (Flavor != VmFlavor.Kvm)
            return -Errno.EINVAL;
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
