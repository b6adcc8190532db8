using Stage2Lab.Arch;
using Stage2Lab.Host;

namespace Stage2Lab.Kvm.Policies;

/// <summary>
/// The helpers of arch/arm64/kvm/mmu.c that several kernel versions share, each named after its function. Each
/// is the kernel's logic; when a decision is being recorded it also adds one typed step with its numbers.
/// </summary>
public static class KernelRules
{
    /// <summary>
    /// fault_supports_stage2_huge_mapping (5.4 → 7.4): the slot's IPA and HVA have the same offset within a block
    /// of <paramref name="mapSize"/>, and the block around hva lies inside the slot. Under protected KVM (6.15+,
    /// the pKVM huge-mapping series) only PMD_SIZE is supported, and (7.x) nothing but pages for a protected
    /// guest (vcpu_is_protected); the VM flavor is never pKVM for the versions before, which refuse it.
    /// </summary>
    public static bool FaultSupportsStage2HugeMapping(in FaultContext ctx, ulong mapSize)
    {
        if (mapSize == ctx.PageSize)
            return true;
        Memslot slot = ctx.Slot;
        if (ctx.Config.ProtectedKvmEnabled && (ctx.Config.Flavor == VmFlavor.ProtectedPkvm || mapSize != ctx.HostConfig.PmdSize))
        {
            HugeMappingResult refused = ctx.Config.Flavor == VmFlavor.ProtectedPkvm ? HugeMappingResult.ProtectedGuest : HugeMappingResult.ProtectedKvmPmdOnly;
            ctx.Explain?.Add(new HugeMappingCheckStep(mapSize, ctx.Hva, slot.Ipa, slot.UserspaceAddr, slot.HvaEnd, refused));
            return false;
        }
        ulong mask = mapSize - 1;
        ulong blockStart = ctx.Hva & ~mask;
        HugeMappingResult result = (slot.Ipa & mask) != (slot.UserspaceAddr & mask) ? HugeMappingResult.ResidueMismatch
            : blockStart >= slot.UserspaceAddr && blockStart + mapSize <= slot.HvaEnd ? HugeMappingResult.Supported
            : HugeMappingResult.OutsideSlot;
        ctx.Explain?.Add(new HugeMappingCheckStep(mapSize, ctx.Hva, slot.Ipa, slot.UserspaceAddr, slot.HvaEnd, result));
        return result == HugeMappingResult.Supported;
    }

    /// <summary>
    /// The PUD/PMD test of get_vma_page_shift (5.14+) and device_rough_page_shift (the seed, v3): with
    /// pa = (vm_pgoff &lt;&lt; PAGE_SHIFT) + (hva - vm_start), the largest block size for which hva ≡ pa,
    /// ALIGN_DOWN(hva) ≥ vm_start and ALIGN(hva) ≤ vm_end — literally ALIGN, so for a block-aligned hva the
    /// VMA end is not really checked.
    /// </summary>
    public static int PfnMapBlockShift(in FaultContext ctx, Vma vma, string function, PfnMapChecks checks = PfnMapChecks.All)
    {
        HostPageTableConfig host = ctx.HostConfig;
        ulong pa = (vma.PgOff << host.PageShift) + (ctx.Hva - vma.Start);
        if (!host.PmdFolded && VmaBlockFits(in ctx, host.PudShift, vma, pa, function, checks))
            return host.PudShift;
        if (VmaBlockFits(in ctx, host.PmdShift, vma, pa, function, checks))
            return host.PmdShift;
        ctx.Explain?.Add(new VmaPageSizeStep(function, VmaPageReason.NoBlockFits, host.PageSize));
        return host.PageShift;
    }

    private static bool VmaBlockFits(in FaultContext ctx, int shift, Vma vma, ulong pa, string function, PfnMapChecks checks)
    {
        ulong size = 1UL << shift, mask = size - 1, hva = ctx.Hva;
        PfnMapBlockResult result = PfnMapBlockResult.Fits;
        if ((checks & PfnMapChecks.PaAlignment) != 0 && (hva & mask) != (pa & mask))
            result = PfnMapBlockResult.PaMisaligned;
        else if ((checks & PfnMapChecks.VmaBounds) != 0 && (hva & ~mask) < vma.Start)
            result = PfnMapBlockResult.BelowVmStart;
        else if ((checks & PfnMapChecks.VmaBounds) != 0 && ((hva + mask) & ~mask) > vma.End)
            result = PfnMapBlockResult.BeyondVmEnd;
        ctx.Explain?.Add(new PfnMapBlockCheckStep(function, size, hva, pa, vma.PgOff, vma.Start, vma.End, result, checks));
        return result == PfnMapBlockResult.Fits;
    }

    /// <summary>is_vm_hugetlb_page(vma) → huge_page_shift(hstate_vma(vma)): the hugetlbfs page size's shift.</summary>
    public static int HugePageShift(in FaultContext ctx, Vma vma, string function)
    {
        ctx.Explain?.Add(new HugetlbShiftStep(function, vma.HugePageSize));
        return System.Numerics.BitOperations.Log2(vma.HugePageSize);
    }

    /// <summary>
    /// The first size user_mem_abort considered before the 2021 series (5.5 → 5.13): the hstate size for
    /// hugetlbfs, else PAGE_SIZE; then <c>logging_active || VM_PFNMAP</c> forces PAGE_SIZE (force_pte).
    /// </summary>
    public static int FirstShiftBefore2021(in FaultContext ctx, Vma vma, bool logging, ref bool forcePte)
    {
        HostPageTableConfig host = ctx.HostConfig;
        int shift = vma.IsHugetlb ? HugePageShift(in ctx, vma, KernelFunctions.UserMemAbort) : host.PageShift;
        if (logging || vma.IsPfnMap)
        {
            forcePte = true;
            ctx.Explain?.Add(new ForcePteStep(KernelFunctions.UserMemAbort, logging ? ForcePteReason.DirtyLogging : ForcePteReason.PfnMapBefore2021, 1UL << shift));
            shift = host.PageShift;
        }
        return shift;
    }

    /// <summary>Dirty logging forces PAGE_SIZE mappings so every written page can be tracked (force_pte).</summary>
    public static int ForcePteForLogging(in FaultContext ctx, ref bool forcePte)
    {
        forcePte = true;
        ctx.Explain?.Add(new ForcePteStep(KernelFunctions.UserMemAbort, ForcePteReason.DirtyLogging, ctx.PageSize));
        return ctx.HostConfig.PageShift;
    }

    /// <summary>
    /// get_vma_page_shift (5.14 → 6.19): hugetlb (not PFNMAP) gives the hstate shift; other non-PFNMAP VMAs
    /// PAGE_SHIFT; PFNMAP the largest block vm_pgoff allows.
    /// </summary>
    public static int GetVmaPageShift(in FaultContext ctx, Vma vma)
    {
        if (vma.IsHugetlb && !vma.IsPfnMap)
            return HugePageShift(in ctx, vma, KernelFunctions.GetVmaPageShift);
        if (!vma.IsPfnMap)
        {
            ctx.Explain?.Add(new VmaPageSizeStep(KernelFunctions.GetVmaPageShift, VmaPageReason.NotPfnMap, ctx.PageSize));
            return ctx.HostConfig.PageShift;
        }
        return PfnMapBlockShift(in ctx, vma, KernelFunctions.GetVmaPageShift);
    }

    /// <summary>
    /// The vma_shift switch of user_mem_abort (5.11 → 6.19): keep PUD if the slot supports it, else fall to
    /// PMD (CONT_PMD hugetlb becomes PMD), keep PMD if supported, else PAGE with force_pte (CONT_PTE too).
    /// </summary>
    public static int ResolveVmaShift(in FaultContext ctx, int shift, ref bool forcePte)
    {
        HostPageTableConfig host = ctx.HostConfig;
        if (shift == host.PudShift && !host.PmdFolded)
        {
            if (FaultSupportsStage2HugeMapping(in ctx, host.PudSize))
                return shift;
            shift = host.PmdShift;
        }
        else if (shift == host.ContPmdShift)
        {
            ctx.Explain?.Add(new ContPmdStep(host.ContPmdSize, host.PmdSize));
            shift = host.PmdShift;
        }
        if (shift == host.PmdShift)
        {
            if (FaultSupportsStage2HugeMapping(in ctx, host.PmdSize))
                return shift;
            forcePte = true;
            ctx.Explain?.Add(new ForcePteStep(KernelFunctions.UserMemAbort, ForcePteReason.NoBlockFitsSlot, host.PmdSize));
            return host.PageShift;
        }
        if (shift == host.ContPteShift)
        {
            forcePte = true;
            ctx.Explain?.Add(new ForcePteStep(KernelFunctions.UserMemAbort, ForcePteReason.ContPteHugetlb, host.ContPteSize));
            return host.PageShift;
        }
        return shift;
    }

    /// <summary>
    /// user_mem_abort (5.x → 6.19): both the canonical and the fault IPA are aligned down for PMD/PUD mappings so
    /// the right pfn is found and the block lands in the right place; page-size mappings keep the HPFAR's
    /// 4K-aligned IPA.
    /// </summary>
    public static ulong AlignFaultIpa(in FaultContext ctx, ulong sizeBytes) =>
        sizeBytes == ctx.HostConfig.PmdSize || sizeBytes == ctx.HostConfig.PudSize ? ctx.FaultIpa & ~(sizeBytes - 1) : ctx.FaultIpa;

    /// <summary>
    /// The page-size branch of user_mem_abort (5.15 → 6.19): a permission fault on a block keeps the block's size
    /// (fault_granule, f2cc327303b1); otherwise transparent_hugepage_adjust may upgrade to PMD_SIZE.
    /// </summary>
    public static ulong KeepFaultGranuleOrAdjustThp(in FaultContext ctx, ref ulong ipa, ref ulong pa)
    {
        ulong faultGranule = ctx.PermissionFaultGranule;
        if (ctx.IsPermissionFault && faultGranule > ctx.PageSize)
        {
            ctx.Explain?.Add(new FaultGranuleKeptStep(faultGranule));
            return faultGranule;
        }
        return TransparentHugepageAdjustByHostWalk(in ctx, ref ipa, ref pa);
    }

    /// <summary>get_user_mapping_size (5.15+): the size of the host page-table leaf mapping hva (PAGE, PMD or PUD).</summary>
    public static ulong GetUserMappingSize(HostAddressSpace host, ulong hva) =>
        host.TryTranslate(hva, out HostMapping mapping) ? mapping.LeafSizeBytes : 0;

    /// <summary>
    /// transparent_hugepage_adjust (5.15 → 6.19): if the slot allows a PMD block here and the host maps hva
    /// with a leaf of at least PMD_SIZE (a THP), map PMD_SIZE from the PMD-aligned IPA and pfn.
    /// </summary>
    public static ulong TransparentHugepageAdjustByHostWalk(in FaultContext ctx, ref ulong ipa, ref ulong pa)
    {
        HostPageTableConfig host = ctx.HostConfig;
        if (!FaultSupportsStage2HugeMapping(in ctx, host.PmdSize))
            return host.PageSize;
        ulong leaf = GetUserMappingSize(ctx.Host, ctx.Hva);
        ulong mask = ~(host.PmdSize - 1);
        ctx.Explain?.Add(new ThpHostLeafCheckStep(ctx.Hva, leaf, host.PmdSize, ipa & mask, pa & mask));
        if (leaf < host.PmdSize)
            return host.PageSize;
        ipa &= mask;
        pa &= mask;
        return host.PmdSize;
    }

    /// <summary>
    /// kvm_is_transparent_hugepage (5.5 → 5.14): PageTransCompoundMap(pfn_to_page(pfn)) — true when the page
    /// is part of a PMD-mapped THP. For a pfn without a struct page (not RAM) pfn_to_page reads memory that is
    /// no page at all: the model answers "not a THP" and reports the touch.
    /// </summary>
    public static bool IsTransparentHugepage(in FaultContext ctx, ulong pa, ref bool touchedNonRamPage)
    {
        bool ram = ctx.Host.Memory.IsRam(pa);
        bool thp = ram && ctx.Host.TryTranslate(ctx.Hva, out HostMapping m) && m.Vma.Kind == VmaKind.Anonymous && m.LeafSizeBytes >= ctx.HostConfig.PmdSize;
        touchedNonRamPage |= !ram;
        ctx.Explain?.Add(new ThpPageCheckStep(pa, ctx.Granule.PageShift, ram, thp));
        return thp;
    }

    /// <summary>
    /// The first check of user_mem_abort from 5.5 to 5.15: a permission fault that is neither a write nor an
    /// instruction fetch cannot happen (KVM maps everything readable): -EFAULT.
    /// </summary>
    public static bool IsUnexpectedReadPermissionFault(in FaultContext ctx)
    {
        if (!ctx.IsPermissionFault || ctx.WriteFault || ctx.ExecFault)
            return false;
        ctx.Explain?.Add(new UnexpectedPermissionFaultStep());
        return true;
    }

    /// <summary>vma_lookup / find_vma_intersection(hva, hva + 1): the VMA holding the faulting HVA (none: -EFAULT).</summary>
    public static Vma? LookupVma(in FaultContext ctx, string function)
    {
        Vma? vma = ctx.Host.FindVma(ctx.Hva);
        ctx.Explain?.Add(new VmaLookupStep(function, ctx.Hva, vma is null ? null : VmaInfo.Of(vma)));
        return vma;
    }

    /// <summary>
    /// gfn_to_pfn_prot / __gfn_to_pfn_memslot / __kvm_faultin_pfn: fault the guest page's HVA in on the host (a
    /// fault-time remap VMA becomes VM_PFNMAP here) and return its PA, writable unless the slot is READONLY or
    /// the VMA is not writable. False when no VMA maps the HVA (KVM_PFN_ERR_FAULT: -EFAULT).
    /// </summary>
    public static bool FaultInPfn(in FaultContext ctx, ulong gfnIpa, string function, out ulong pa, out bool writable)
    {
        Granule granule = ctx.Granule;
        ulong hva = ctx.Slot.HvaOf(gfnIpa & granule.PageMask);
        Vma? vma = ctx.Host.FindVma(hva);
        if (vma is null)
        {
            pa = 0;
            writable = false;
        }
        else
        {
            ctx.Host.OnHostFault(vma);
            pa = vma.PaOf(hva, granule.PageShift) & granule.PageMask;
            writable = !ctx.Slot.IsReadOnly && (vma.Flags & VmFlags.Write) != 0;
        }
        ctx.Explain?.Add(new PfnFaultInStep(function, gfnIpa >> granule.PageShift, pa, writable, vma is not null));
        return vma is not null;
    }

    /// <summary>Logging and not a write: the page is mapped read-only until it is written (so the write is seen).</summary>
    public static bool LoggingReadOnly(in FaultContext ctx, string function = KernelFunctions.UserMemAbort)
    {
        ctx.Explain?.Add(new LoggingReadOnlyStep(function));
        return false;
    }

    /// <summary>The -ENOEXEC of user_mem_abort (5.5+): the guest may not execute from device memory.</summary>
    public static FaultResult ExecOnDevice(in FaultContext ctx, string function = KernelFunctions.UserMemAbort)
    {
        ctx.Explain?.Add(new ExecOnDeviceStep(function));
        return FaultResult.Fail(Errno.ENOEXEC);
    }

    /// <summary>
    /// kvm_mmu_topup_memory_cache / topup_hyp_memcache (prepare_mmu_memcache in 6.17+, topup_mmu_memcache in
    /// 7.x): fill the vCPU's memcache to kvm_mmu_cache_min_pages before the walk, so the walk never allocates.
    /// </summary>
    public static void TopUpMemcache(in FaultContext ctx, string function, MemcacheTopupReason reason)
    {
        ctx.Mmu.TopUpFaultCache();
        ctx.Explain?.Add(new MemcacheTopupStep(function, reason, ctx.Mmu.MinCachePages, ctx.Config.ProtectedKvmEnabled));
    }

    /// <summary>
    /// kvm_gmem_get_pfn: the guest_memfd page backing the gfn. The model's guest_memfd is the one the VMM mmaps
    /// at the slot's userspace_addr (arm64 accepts only mappable, gmem-only slots), so its page is the one the host
    /// maps there; with nothing mapped the lookup fails (KVM_EXIT_MEMORY_FAULT, -EFAULT).
    /// </summary>
    public static bool GmemGetPfn(in FaultContext ctx, ulong gfnIpa, out ulong pa)
    {
        Granule granule = ctx.Granule;
        ulong hva = ctx.Slot.HvaOf(gfnIpa & granule.PageMask);
        bool found = ctx.Host.TryTranslate(hva, out HostMapping mapping);
        pa = found ? mapping.Pa & granule.PageMask : 0;
        ctx.Explain?.Add(new GmemPfnStep(gfnIpa >> granule.PageShift, pa, found));
        return found;
    }

    /// <summary>
    /// The prot user_mem_abort asks for (5.5 → 6.19): R; W if the page may be written; X for an instruction
    /// fetch; then the memory type for device memory (Device, or Normal-NC in 6.8+), or X for normal memory on a
    /// CPU with DIC (no I-cache maintenance needed).
    /// </summary>
    public static Prot FaultProt(in FaultContext ctx, bool writable, Prot deviceType, string function = KernelFunctions.UserMemAbort)
    {
        bool dic = ctx.Features.Dic;
        Prot prot = Prot.R;
        if (writable)
            prot |= Prot.W;
        if (ctx.ExecFault)
            prot |= Prot.X;
        if (deviceType != Prot.None)
            prot |= deviceType;
        else if (dic)
            prot |= Prot.X;
        ctx.Explain?.Add(new ProtStep(function, prot, deviceType switch
        {
            Prot.NormalNC => ProtReason.NormalNonCacheable,
            Prot.Device => ProtReason.Device,
            _ => dic ? ProtReason.NormalDic : ProtReason.Normal,
        }));
        return prot;
    }

    /// <summary>
    /// Calls relax_perms or map as user_mem_abort ends, and fills the result. The map call's IPA is the
    /// argument as passed (block-aligned for blocks, 4K-aligned otherwise up to v6.18).
    /// </summary>
    public static FaultResult Install(in FaultContext ctx, bool relax, ulong ipa, ulong sizeBytes, ulong pa, Prot prot, PageTables.WalkFlags flags)
    {
        Stage2Mmu mmu = ctx.Mmu;
        int ret = relax
            ? mmu.Pgt.RelaxPerms(ipa, prot, flags)
            : mmu.Pgt.Map(ipa, sizeBytes, pa, prot, mmu.FaultCache, flags);
        if (ctx.Explain is { } x)
        {
            x.Add(new InstallStep(relax ? InstallOp.Relax : InstallOp.Map, ipa, sizeBytes, pa, prot, -ret));
            if (!relax && ret == 0 && ctx.Nested is null)
                NoteHostMismatch(in ctx, x, ipa, sizeBytes, pa);
        }
        return new FaultResult
        {
            Outcome = relax ? FaultOutcome.Relaxed : FaultOutcome.Mapped,
            Ipa = ipa,
            SizeBytes = sizeBytes,
            Pa = pa,
            Prot = prot,
            PgtableErrno = -ret,
        };
    }

    /// <summary>
    /// mark_page_dirty_in_slot after a successful map or relax of a writable page (5.15+; 5.10-rc1 marks before
    /// mapping, whatever the map returns).
    /// </summary>
    public static FaultResult MarkDirtyIfWritten(in FaultContext ctx, in FaultResult result, bool writable, ulong gfnIpa) =>
        writable && result.PgtableErrno == 0 && ctx.MarkPageDirty(gfnIpa) ? result with { MarkedDirty = true } : result;

    /// <summary>For an explanation: does the new leaf map the faulting page where the host maps its HVA?</summary>
    private static void NoteHostMismatch(in FaultContext ctx, DecisionRecord x, ulong ipa, ulong sizeBytes, ulong pa)
    {
        ulong faultPage = x.Ipa & ctx.Granule.PageMask;
        Memslot slot = ctx.Slot;
        if (!slot.ContainsIpa(faultPage) || faultPage < ipa || faultPage - ipa >= sizeBytes)
            return;
        ulong hva = slot.HvaOf(faultPage);
        ulong mapped = pa + (faultPage - ipa);
        if (!ctx.Host.TryTranslate(hva, out HostMapping host))
            x.Add(new HostMismatchStep(faultPage, hva, mapped, null));
        else if (host.Pa != mapped)
            x.Add(new HostMismatchStep(faultPage, hva, mapped, host.Pa));
    }
}
