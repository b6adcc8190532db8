using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.PageTables;

namespace Stage2Lab.Kvm.Policies;

/// <summary>
/// The newest fault path (v6.18/v6.19 arch/arm64/kvm/mmu.c): get_vma_page_shift, device = VM_PFNMAP or
/// VM_MIXEDMAP over a pfn that is not RAM, cacheable PFNMAP only with FWB and DIC, VM_ALLOW_ANY_UNCACHED mapped
/// Normal-NC, FEAT_XNX-era relax_perms, eager splitting, range TLB invalidation.
/// </summary>
public class V6_18Policy : FaultPolicy
{
    public override string Name => "v6.18";

    public override string Description => "Linux 6.18/6.19 (newest): get_vma_page_shift, Normal-NC and cacheable PFNMAP, FEAT_XNX relax";

    public override Stage2ApiRevision PageTableApi => Stage2ApiRevision.Current;

    public override bool RangeFlushOfMemslots => true;

    /// <summary>kvm_handle_guest_abort: "Falls between the IPA range and the PARange?" -> kvm_inject_sea.</summary>
    public override bool InjectsAbortBeyondIpaSize => true;

    /// <summary>
    /// The size the VMA allows at hva, before the memslot is considered: get_vma_page_shift here; the
    /// host-pte variant overrides it.
    /// </summary>
    protected virtual int VmaShift(KvmVm vm, Vma vma, ulong hva, DecisionRecord? x) =>
        KernelRules.GetVmaPageShift(vm.HostConfig, vma, hva, x);

    /// <summary>The PA a block is mapped from: the pfn of its first page, as __kvm_faultin_pfn returned it.</summary>
    protected virtual ulong BlockPa(ulong pa, ulong sizeBytes) => pa;

    /// <summary>Dirty logging forces PAGE_SIZE mappings (so every written page can be tracked).</summary>
    protected virtual bool LoggingForcesPages => true;

    public override FaultResult UserMemAbort(in FaultContext ctx)
    {
        KvmVm vm = ctx.Vm;
        HostPageTableConfig host = vm.HostConfig;
        Memslot slot = ctx.Slot;
        DecisionRecord? x = ctx.Explain;
        ulong page = host.PageSize;
        bool perm = ctx.IsPermissionFault;
        // kvm_vcpu_trap_get_perm_fault_granule: the level the permission fault was reported at.
        ulong faultGranule = perm ? vm.Granule.LevelSize(ctx.FaultLevel) : 0;
        bool logging = slot.IsLogging;
        bool forcePagesForLogging = logging && LoggingForcesPages;

        if (KernelRules.LookupVma(in ctx, "vma_lookup") is not { } vma)
            return FaultResult.Fail(Errno.EFAULT);

        bool forcePte = false;
        int shift;
        if (forcePagesForLogging)
        {
            // logging_active is never true for VM_PFNMAP slots (prepare refuses them).
            forcePte = true;
            shift = host.PageShift;
            x?.Note("user_mem_abort", "dirty logging is on: force_pte, PAGE_SIZE");
        }
        else
        {
            shift = VmaShift(vm, vma, ctx.Hva, x);
        }
        shift = KernelRules.ResolveVmaShift(host, slot, ctx.Hva, shift, ref forcePte, x);
        ulong size = 1UL << shift;

        // Both the canonical IPA and the fault IPA are aligned for PMD/PUD mappings, so the right pfn is found.
        ulong ipa = KernelRules.AlignFaultIpa(host, ctx.FaultIpa, size);
        ulong gfnIpa = ipa & vm.Granule.PageMask;

        // vm_flags are read before the pfn is faulted in (a fault-time remap VMA is not yet VM_PFNMAP).
        VmFlags vmFlags = vma.Flags;
        bool vmaCacheable = vma.Cacheable;
        if (!KernelRules.FaultInPfn(in ctx, gfnIpa, "__kvm_faultin_pfn", out ulong pa, out bool writable))
            return FaultResult.Fail(Errno.EFAULT);

        bool forceNonCacheable = false;
        if ((vmFlags & (VmFlags.PfnMap | VmFlags.MixedMap)) != 0 && vm.IsDevicePa(pa))
        {
            if (vmaCacheable)
            {
                // kvm_supports_cacheable_pfnmap: no CMOs are possible on such a pfn, so FWB and DIC are needed.
                if (!(vm.Features.Fwb && vm.Features.Dic))
                {
                    x?.Check("kvm_supports_cacheable_pfnmap", false, "cacheable PFNMAP of a non-RAM pfn needs FWB and DIC: -EFAULT");
                    return FaultResult.Fail(Errno.EFAULT);
                }
                x?.Check("kvm_supports_cacheable_pfnmap", true, "cacheable PFNMAP with FWB and DIC: mapped Normal cacheable");
            }
            else
            {
                forceNonCacheable = true;
                x?.Note("user_mem_abort", $"PFNMAP/MIXEDMAP pfn is not RAM: s2_force_noncacheable (no THP upgrade)");
            }
        }
        else if (logging && !ctx.WriteFault)
        {
            writable = false;
            x?.Note("user_mem_abort", "logging and not a write: map read-only until the page is written");
        }

        if (ctx.ExecFault && forceNonCacheable)
            return KernelRules.ExecOnDevice(x);

        if (size == page && !(forcePte || forceNonCacheable))
        {
            size = KernelRules.KeepFaultGranuleOrAdjustThp(in ctx, faultGranule, ref ipa, ref pa);
        }

        // VM_ALLOW_ANY_UNCACHED (6.8+): non-cacheable device memory may be mapped Normal-NC.
        Prot deviceType = !forceNonCacheable ? Prot.None : (vmFlags & VmFlags.AllowAnyUncached) != 0 ? Prot.NormalNC : Prot.Device;
        Prot prot = KernelRules.FaultProt(writable, ctx.ExecFault, deviceType, vm.Features.Dic, x);

        bool relax = perm && size == faultGranule;
        if (size > page)
            pa = BlockPa(pa, size);
        FaultResult result = KernelRules.Install(vm, relax, ipa, size, pa, prot, WalkFlags.HandleFault, x);
        if (writable && result.PgtableErrno == 0)
            vm.MarkPageDirty(slot, gfnIpa);
        return result;
    }

    /// <summary>
    /// kvm_arch_prepare_memory_region (v6.19): the slot must end within the IPA space (-EFAULT); a VM_PFNMAP
    /// VMA in it refuses dirty logging and, when cacheable, needs FWB and DIC (-EINVAL).
    /// </summary>
    public override KvmResult PrepareMemoryRegion(KvmVm vm, Memslot? old, Memslot slot, MemslotChange change)
    {
        if (change is not (MemslotChange.Create or MemslotChange.Move or MemslotChange.FlagsOnly))
            return KvmResult.Ok;
        if (slot.IpaEnd > vm.IpaLimit)
            return KvmResult.Fail(Errno.EFAULT, $"slot {slot.Id} ends at IPA 0x{slot.IpaEnd:x}, above the {vm.Config.IpaBits}-bit IPA space");
        foreach (Vma vma in vm.Host.Intersecting(slot.UserspaceAddr, slot.HvaEnd))
        {
            if (!vma.IsPfnMap)
                continue;
            if ((slot.Flags & MemslotFlags.LogDirtyPages) != 0)
                return KvmResult.Fail(Errno.EINVAL, $"slot {slot.Id}: dirty logging is not allowed on a VM_PFNMAP region ({vma})");
            if (vma.Cacheable && !(vm.Features.Fwb && vm.Features.Dic))
                return KvmResult.Fail(Errno.EINVAL, $"slot {slot.Id}: cacheable PFNMAP {vma} needs FWB and DIC");
        }
        return KvmResult.Ok;
    }

    /// <summary>
    /// kvm_arch_commit_memory_region (v6.19): enabling logging write-protects the slot and splits its blocks
    /// eagerly (when a chunk size is set) — unless manual protect with initially-all-set defers that to
    /// KVM_CLEAR_DIRTY_LOG.
    /// </summary>
    public override void CommitMemoryRegion(KvmVm vm, Memslot? old, Memslot? slot, MemslotChange change)
    {
        if (slot is null || change == MemslotChange.Delete || (slot.Flags & MemslotFlags.LogDirtyPages) == 0)
            return;
        if (vm.Config.ManualDirtyLogProtect)
            return;
        vm.WriteProtectMemslot(slot);
        vm.SplitHugePages(slot.Ipa, slot.IpaEnd);
    }
}
