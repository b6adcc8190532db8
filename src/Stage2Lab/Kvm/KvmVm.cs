using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.Kvm.Policies;
using Stage2Lab.PageTables;

namespace Stage2Lab.Kvm;

/// <summary>
/// One VM: its stage-2 table, memslots, the VMM's address space it reads, and the fault-path policy (kernel
/// version) that decides mappings. Every guest access goes through the hardware walk of the real table,
/// then kvm_handle_guest_abort and the policy's user_mem_abort.
/// </summary>
public sealed partial class KvmVm
{
    private VmCounters _counters;

    public KvmVm(VmConfig config, HostAddressSpace host, FaultPolicy policy)
    {
        if (host.Config.Granule != config.Granule)
            throw new ArgumentException($"the VM granule ({config.Granule}) must be the host PAGE_SIZE ({host.Config.Granule})", nameof(config));
        Config = config;
        Host = host;
        Policy = policy;
        Stage2 = new Stage2PageTable(config.Granule, config.IpaBits, config.Features, policy.PageTableApi);
        Memslots = new MemslotTable(config.MaxSlots);
        FaultCache = MemoryCache.Unbounded();
        SplitCache = new MemoryCache((long)SplitPagesFor(config.EagerSplitChunkBytes), 0);
    }

    public VmConfig Config { get; }

    public HostAddressSpace Host { get; }

    public PhysicalMemory Memory => Host.Memory;

    public HostPageTableConfig HostConfig => Host.Config;

    public FaultPolicy Policy { get; }

    public Stage2PageTable Stage2 { get; }

    public MemslotTable Memslots { get; }

    public CpuFeatures Features => Config.Features;

    public Granule Granule => Config.Granule;

    public ulong PageSize => Config.Granule.PageSize;

    public int PageShift => Config.Granule.PageShift;

    /// <summary>The vCPU's mmu_page_cache, topped up before each fault (kvm_mmu_topup_memory_cache).</summary>
    internal MemoryCache FaultCache { get; }

    /// <summary>kvm->arch.mmu.split_page_cache used by eager splitting.</summary>
    internal MemoryCache SplitCache { get; }

    public ref VmCounters Counters => ref _counters;

    /// <summary>kvm_phys_size: the IPA space size.</summary>
    public ulong IpaLimit => Stage2.Geometry.IpaLimit;

    /// <summary>kvm_granule_size(KVM_PGTABLE_MIN_BLOCK_LEVEL): the chunk stage2_apply_range works in.</summary>
    private ulong ApplyRangeChunk => Granule.LevelSize(Granule.MinBlockLevel);

    /// <summary>
    /// stage2_apply_range: a long unmap or write-protect is cut at block-level boundaries so the lock can be
    /// dropped between chunks (v6.19 mmu.c); each chunk is its own page-table walk.
    /// </summary>
    internal void UnmapStage2Range(ulong ipa, ulong sizeBytes)
    {
        ulong end = ipa + sizeBytes;
        ulong chunk = ApplyRangeChunk;
        for (ulong addr = ipa; addr < end;)
        {
            ulong next = Math.Min((addr + chunk) & ~(chunk - 1), end);
            if (next <= addr)
                next = end;
            Stage2.Unmap(addr, next - addr);
            addr = next;
        }
    }

    /// <summary>stage2_wp_range: write-protect in block-level chunks (stage2_apply_range_resched).</summary>
    internal void WriteProtectStage2Range(ulong ipa, ulong end)
    {
        ulong chunk = ApplyRangeChunk;
        for (ulong addr = ipa; addr < end;)
        {
            ulong next = Math.Min((addr + chunk) & ~(chunk - 1), end);
            if (next <= addr)
                next = end;
            Stage2.WrProtect(addr, next - addr);
            addr = next;
        }
    }

    /// <summary>kvm_flush_remote_tlbs_range (6.6+: a range invalidation) or kvm_flush_remote_tlbs (whole VMID).</summary>
    internal void FlushRemoteTlbs(ulong ipa, ulong sizeBytes)
    {
        if (Policy.RangeFlushOfMemslots)
            Stage2.FlushVmidRange(ipa, sizeBytes);
        else
            Stage2.FlushVmid();
    }

    /// <summary>kvm_mmu_split_nr_page_tables: the pages a chunk can need when every block in it is split.</summary>
    private ulong SplitPagesFor(ulong rangeBytes)
    {
        ulong n = 0;
        if (rangeBytes == 0)
            return 0;
        ulong pud = HostConfig.PudSize, pmd = HostConfig.PmdSize;
        if (Granule.MinBlockLevel < 2)
            n += (rangeBytes + pud - 1) / pud;
        n += (rangeBytes + pmd - 1) / pmd;
        return n;
    }

    /// <summary>
    /// kvm_mmu_split_huge_pages: eager splitting, chunk by chunk, topping up the split cache when it holds
    /// fewer pages than a chunk may need (best effort: stops on -ENOMEM).
    /// </summary>
    internal int SplitHugePages(ulong ipa, ulong end)
    {
        ulong chunk = Config.EagerSplitChunkBytes;
        if (chunk == 0)
            return 0;
        long min = (long)SplitPagesFor(chunk);
        for (ulong addr = ipa; addr < end;)
        {
            SplitCache.TopUp(min);
            ulong next = Math.Min((addr + chunk) & ~(chunk - 1), end);
            if (next <= addr)
                next = end;
            int ret = Stage2.Split(addr, next - addr, SplitCache);
            if (ret != 0)
                return ret;
            addr = next;
        }
        return 0;
    }

    /// <summary>kvm_is_device_pfn / !pfn_is_map_memory.</summary>
    public bool IsDevicePa(ulong pa) => !Memory.IsRam(pa);

    /// <summary>
    /// __gfn_to_pfn_memslot / __kvm_faultin_pfn: the host PA backing one guest page, found by faulting the
    /// HVA in on the host (a fault-time remap VMA becomes VM_PFNMAP here). Writable unless the slot is
    /// READONLY or the VMA is not writable. False when no VMA maps the HVA (KVM_PFN_ERR_FAULT).
    /// </summary>
    internal bool FaultInPfn(Memslot slot, ulong ipa, out ulong pa, out bool writable)
    {
        ulong pageIpa = ipa & Granule.PageMask;
        ulong hva = slot.HvaOf(pageIpa);
        Vma? vma = Host.FindVma(hva);
        if (vma is null)
        {
            pa = 0;
            writable = false;
            return false;
        }
        Host.OnHostFault(vma);
        pa = vma.PaOf(hva, PageShift) & Granule.PageMask;
        writable = !slot.IsReadOnly && (vma.Flags & VmFlags.Write) != 0;
        return true;
    }

    /// <summary>mark_page_dirty_in_slot: only slots with a dirty bitmap track pages.</summary>
    internal void MarkPageDirty(Memslot slot, ulong ipa)
    {
        if (slot.DirtyBitmap is null || !slot.ContainsIpa(ipa))
            return;
        slot.DirtyBitmap.Set((ipa - slot.Ipa) >> PageShift);
        _counters.DirtyPagesMarked++;
    }

    /// <summary>kvm_free_stage2_pgd at VM teardown: every table page goes, no maintenance.</summary>
    public void Teardown()
    {
        Stage2.DestroyRange(0, IpaLimit);
    }
}
