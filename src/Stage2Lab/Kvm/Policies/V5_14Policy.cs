using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.PageTables;

namespace Stage2Lab.Kvm.Policies;

/// <summary>
/// The series as merged (Marc Zyngier's rework of the seed, 5.14; modelled on the 5.15.y mmu.c):
/// get_vma_page_shift sizes PFNMAP from vm_pgoff, device = any non-RAM pfn (no force_pte, no THP upgrade),
/// THP found by walking the host page table (get_user_mapping_size), a permission fault keeps the existing
/// leaf's size (fault_granule), nothing is mapped at slot creation.
/// </summary>
public sealed class V5_14Policy : FaultPolicy
{
    public override string Name => "v5.14";

    public override string Description => "Linux 5.14/5.15 (the series as merged): get_vma_page_shift, lazy device mapping";

    public override Stage2ApiRevision PageTableApi => Stage2ApiRevision.V5_12;

    public override FaultResult UserMemAbort(in FaultContext ctx)
    {
        KvmVm vm = ctx.Vm;
        HostPageTableConfig host = vm.HostConfig;
        Memslot slot = ctx.Slot;
        DecisionRecord? x = ctx.Explain;
        ulong page = host.PageSize;
        bool perm = ctx.IsPermissionFault;
        ulong faultGranule = vm.Granule.LevelSize(ctx.FaultLevel);
        bool logging = slot.IsLogging;

        if (KernelRules.IsUnexpectedReadPermissionFault(in ctx) || KernelRules.LookupVma(in ctx, "vma_lookup") is not { } vma)
            return FaultResult.Fail(Errno.EFAULT);

        bool forcePte = false;
        int shift;
        if (logging)
        {
            forcePte = true;
            shift = host.PageShift;
            x?.Note("user_mem_abort", "dirty logging is on: force_pte, PAGE_SIZE");
        }
        else
        {
            shift = KernelRules.GetVmaPageShift(host, vma, ctx.Hva, x);
        }
        shift = KernelRules.ResolveVmaShift(host, slot, ctx.Hva, shift, ref forcePte, x);
        ulong size = 1UL << shift;
        ulong ipa = KernelRules.AlignFaultIpa(host, ctx.FaultIpa, size);
        ulong gfnIpa = ipa & vm.Granule.PageMask;

        if (!KernelRules.FaultInPfn(in ctx, gfnIpa, "__gfn_to_pfn_memslot", out ulong pa, out bool writable))
            return FaultResult.Fail(Errno.EFAULT);

        // kvm_is_device_pfn: any pfn that is not RAM. The VMA already gave the largest size to map; THP must not grow it.
        bool device = vm.IsDevicePa(pa);
        if (device)
            x?.Note("kvm_is_device_pfn", $"PA 0x{pa:x} is not RAM: device (no THP upgrade)");
        else if (logging && !ctx.WriteFault)
        {
            writable = false;
            x?.Note("user_mem_abort", "logging and not a write: map read-only until the page is written");
        }

        if (ctx.ExecFault && device)
            return KernelRules.ExecOnDevice(x);

        if (size == page && !(forcePte || device))
        {
            size = KernelRules.KeepFaultGranuleOrAdjustThp(in ctx, faultGranule, ref ipa, ref pa);
        }

        Prot prot = KernelRules.FaultProt(writable, ctx.ExecFault, device ? Prot.Device : Prot.None, vm.Features.Dic, x);

        bool relax = perm && size == faultGranule;
        FaultResult result = KernelRules.Install(vm, relax, ipa, size, pa, prot, WalkFlags.HandleFault, x);
        if (writable && result.PgtableErrno == 0)
            vm.MarkPageDirty(slot, gfnIpa);
        return result;
    }

    /// <summary>kvm_arch_prepare_memory_region (5.14/5.15): IPA bound, and no dirty logging on VM_PFNMAP.</summary>
    public override KvmResult PrepareMemoryRegion(KvmVm vm, Memslot? old, Memslot slot, MemslotChange change) =>
        MemslotChecks.Lazy(vm, slot, change, ipaLimitInclusive: false);

    /// <summary>kvm_arch_commit_memory_region (5.x): enabling logging write-protects the slot.</summary>
    public override void CommitMemoryRegion(KvmVm vm, Memslot? old, Memslot? slot, MemslotChange change) =>
        MemslotChecks.WriteProtectOnLogging(vm, slot, change);
}
