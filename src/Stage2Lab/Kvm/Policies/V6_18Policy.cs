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
        ulong page = ctx.PageSize;
        bool logging = slot.IsLogging;

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
    /// kvm_arch_prepare_memory_region (v6.19): the slot must end within the IPA space (-EFAULT); a VM_PFNMAP
    /// VMA in it refuses dirty logging and, when cacheable, needs FWB and DIC (-EINVAL).
    /// </summary>
    public override KvmResult PrepareMemoryRegion(in MemslotContext ctx, Memslot? old, Memslot slot, MemslotChange change)
    {
        if (change is not (MemslotChange.Create or MemslotChange.Move or MemslotChange.FlagsOnly))
            return KvmResult.Ok;
        if (slot.IpaEnd > ctx.Mmu.IpaLimit)
            return KvmResult.Fail(Errno.EFAULT, new SlotBeyondIpaSpace(slot.Id, slot.IpaEnd, ctx.Config.IpaBits, LimitInclusive: false));
        foreach (Vma vma in ctx.Host.Intersecting(slot.UserspaceAddr, slot.HvaEnd))
        {
            if (!vma.IsPfnMap)
                continue;
            if ((slot.Flags & MemslotFlags.LogDirtyPages) != 0)
                return KvmResult.Fail(Errno.EINVAL, new LoggingOnPfnMap(slot.Id, VmaInfo.Of(vma)));
            if (vma.Cacheable && !(ctx.Config.Features.Fwb && ctx.Config.Features.Dic))
                return KvmResult.Fail(Errno.EINVAL, new CacheablePfnMapUnsupported(slot.Id, VmaInfo.Of(vma)));
        }
        return KvmResult.Ok;
    }

    /// <summary>
    /// kvm_arch_commit_memory_region (v6.19): enabling logging write-protects the slot and splits its blocks
    /// eagerly (when a chunk size is set) — unless manual protect with initially-all-set defers that to
    /// KVM_CLEAR_DIRTY_LOG.
    /// </summary>
    public override void CommitMemoryRegion(in MemslotContext ctx, Memslot? old, Memslot? slot, MemslotChange change)
    {
        if (slot is null || change == MemslotChange.Delete || (slot.Flags & MemslotFlags.LogDirtyPages) == 0)
            return;
        if (ctx.Config.ManualDirtyLogProtect)
            return;
        ctx.Mmu.WriteProtectMemslot(slot);
        ctx.Mmu.SplitHugePages(slot.Ipa, slot.IpaEnd);
    }
}
