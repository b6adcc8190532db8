using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.PageTables;

namespace Stage2Lab.Kvm.Policies;

/// <summary>
/// The 6.18 LTS fault path (the goldens come from a v6.19-era arch/arm64/kvm/mmu.c): get_vma_page_shift, device =
/// VM_PFNMAP or VM_MIXEDMAP over a pfn that is not RAM, cacheable PFNMAP only with FWB and DIC,
/// VM_ALLOW_ANY_UNCACHED mapped Normal-NC, FEAT_XNX-era relax_perms, eager splitting, range TLB invalidation.
/// </summary>
public class V6_18Policy : FaultPolicy
{
    public override string Name => "v6.18";

    public override Stage2ApiRevision PageTableApi => Stage2ApiRevision.Current;

    public override bool RangeFlushOfMemslots => true;

    /// <summary>kvm_handle_guest_abort: "Falls between the IPA range and the PARange?" -> kvm_inject_sea.</summary>
    public override bool InjectsAbortBeyondIpaSize => true;

    /// <summary>
    /// A non-protected guest under protected KVM (6.15+: pKVM huge mappings, PMD_SIZE only). 6.18 has no fault
    /// path for protected guests (protected_pkvm_mem_abort is 7.x).
    /// </summary>
    public override bool Supports(VmFlavor flavor) => flavor is VmFlavor.Kvm or VmFlavor.Pkvm;

    /// <summary>guest_memfd-backed slots (6.18: gmem_abort, KVM_MEM_GUEST_MEMFD on arm64).</summary>
    public override bool SupportsGuestMemfd => true;

    /// <summary>
    /// The size the VMA allows at hva, before the memslot is considered: get_vma_page_shift here; the host-pte
    /// proposal and the buggy variants override it.
    /// </summary>
    protected virtual int VmaPageShift(in FaultContext ctx, Vma vma) => KernelRules.GetVmaPageShift(in ctx, vma);

    /// <summary>The PA a block is mapped from: the pfn of its first page, as __kvm_faultin_pfn returned it.</summary>
    protected virtual ulong BlockPa(ulong pa, ulong sizeBytes) => pa;

    /// <summary>Dirty logging forces PAGE_SIZE mappings (so every written page can be tracked).</summary>
    protected virtual bool LoggingForcesPages => true;

    public override FaultResult UserMemAbort(in FaultContext ctx)
    {
        Memslot slot = ctx.Slot;
        // kvm_handle_guest_abort (6.18): guest_memfd slots have their own handler.
        if (slot.IsGuestMemfd)
            return GmemAbort(in ctx);
        ulong page = ctx.PageSize;
        bool logging = slot.IsLogging;

        // prepare_mmu_memcache: a permission fault needs no new table page, unless logging may split a block.
        if (!ctx.IsPermissionFault || (logging && ctx.WriteFault))
            KernelRules.TopUpMemcache(in ctx, KernelFunctions.PrepareMmuMemcache,
                !ctx.IsPermissionFault ? MemcacheTopupReason.NotPermissionFault : MemcacheTopupReason.LoggingWrite);

        if (KernelRules.LookupVma(in ctx, KernelFunctions.VmaLookup) is not { } vma)
            return FaultResult.Fail(Errno.EFAULT);

        // logging_active is never true for VM_PFNMAP slots (prepare refuses them).
        bool forcePte = false;
        int shift = logging && LoggingForcesPages
            ? KernelRules.ForcePteForLogging(in ctx, ref forcePte)
            : VmaPageShift(in ctx, vma);
        shift = KernelRules.ResolveVmaShift(in ctx, shift, ref forcePte);
        ulong size = 1UL << shift;

        // Both the canonical IPA and the fault IPA are aligned for PMD/PUD mappings, so the right pfn is found.
        ulong ipa = KernelRules.AlignFaultIpa(in ctx, size);
        ulong gfnIpa = ipa & ctx.Granule.PageMask;

        // vm_flags are read before the pfn is faulted in (a fault-time remap VMA is not yet VM_PFNMAP).
        VmFlags vmFlags = vma.Flags;
        bool vmaCacheable = vma.Cacheable;
        if (!KernelRules.FaultInPfn(in ctx, gfnIpa, KernelFunctions.KvmFaultinPfn, out ulong pa, out bool writable))
            return FaultResult.Fail(Errno.EFAULT);

        bool forceNonCacheable = false;
        if ((vmFlags & (VmFlags.PfnMap | VmFlags.MixedMap)) != 0 && ctx.IsDevicePa(pa))
        {
            if (vmaCacheable)
            {
                // kvm_supports_cacheable_pfnmap: no CMOs are possible on such a pfn, so FWB and DIC are needed.
                ctx.Explain?.Add(new CacheablePfnMapCheckStep(ctx.Features.Fwb, ctx.Features.Dic));
                if (!(ctx.Features.Fwb && ctx.Features.Dic))
                    return FaultResult.Fail(Errno.EFAULT);
            }
            else
            {
                forceNonCacheable = true;
                ctx.Explain?.Add(new DeviceDetectedStep(KernelFunctions.UserMemAbort, pa, vmFlags, DeviceEffect.ForceNonCacheable, size, page));
            }
        }
        else if (logging && !ctx.WriteFault)
        {
            writable = KernelRules.LoggingReadOnly(in ctx);
        }

        if (ctx.ExecFault && forceNonCacheable)
            return KernelRules.ExecOnDevice(in ctx);

        if (size == page && !(forcePte || forceNonCacheable))
            size = KernelRules.KeepFaultGranuleOrAdjustThp(in ctx, ref ipa, ref pa);

        // VM_ALLOW_ANY_UNCACHED (6.8+): non-cacheable device memory may be mapped Normal-NC.
        Prot deviceType = !forceNonCacheable ? Prot.None : (vmFlags & VmFlags.AllowAnyUncached) != 0 ? Prot.NormalNC : Prot.Device;
        Prot prot = KernelRules.FaultProt(in ctx, writable, deviceType);

        bool relax = ctx.IsPermissionFault && size == ctx.PermissionFaultGranule;
        if (size > page)
            pa = BlockPa(pa, size);
        FaultResult result = KernelRules.Install(in ctx, relax, ipa, size, pa, prot, WalkFlags.HandleFault);
        return KernelRules.MarkDirtyIfWritten(in ctx, in result, writable, gfnIpa);
    }

    /// <summary>
    /// gmem_abort (6.18): top the memcache up, PAGE_SIZE from kvm_gmem_get_pfn (no VMA is involved); R, W unless
    /// READONLY, X for a fetch or on a DIC CPU; always a map (never a relax), at the fault IPA as HPFAR gives it.
    /// </summary>
    private static FaultResult GmemAbort(in FaultContext ctx)
    {
        ulong page = ctx.PageSize;
        KernelRules.TopUpMemcache(in ctx, KernelFunctions.PrepareMmuMemcache, MemcacheTopupReason.Always);
        ulong gfnIpa = ctx.FaultIpa & ctx.Granule.PageMask;
        ctx.Explain?.Add(new GmemPageSizeStep(page));
        if (!KernelRules.GmemGetPfn(in ctx, gfnIpa, out ulong pa))
            return FaultResult.Fail(Errno.EFAULT);
        bool writable = !ctx.Slot.IsReadOnly;
        bool dic = ctx.Features.Dic;
        Prot prot = Prot.R | (writable ? Prot.W : Prot.None) | (ctx.ExecFault || dic ? Prot.X : Prot.None);
        ctx.Explain?.Add(new ProtStep(KernelFunctions.GmemAbort, prot, dic ? ProtReason.NormalDic : ProtReason.Normal));
        FaultResult result = KernelRules.Install(in ctx, relax: false, ctx.FaultIpa, page, pa, prot, WalkFlags.HandleFault);
        return KernelRules.MarkDirtyIfWritten(in ctx, in result, writable, gfnIpa);
    }

    /// <summary>kvm_arch_prepare_memory_region (v6.19).</summary>
    public override KvmResult PrepareMemoryRegion(in MemslotContext ctx, Memslot? old, Memslot slot, MemslotChange change) =>
        MemslotChecks.Current(in ctx, slot, change);

    /// <summary>kvm_arch_commit_memory_region (v6.19).</summary>
    public override void CommitMemoryRegion(in MemslotContext ctx, Memslot? old, Memslot? slot, MemslotChange change) =>
        MemslotChecks.WriteProtectAndSplitOnLogging(in ctx, slot, change);
}
