using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.PageTables;

namespace Stage2Lab.Kvm.Policies;

/// <summary>
/// The 5.10-rc1 fault path, the last before 91a2c34b7d6f ("KVM: arm64: Force PTE mapping on fault resulting in
/// a device mapping"): a device pfn does not force PAGE_SIZE, so a device pfn in a VMA that was not VM_PFNMAP at
/// the check reaches transparent_hugepage_adjust, whose kvm_is_transparent_hugepage() reads the struct page of
/// a pfn that has none. No CONT_PTE/CONT_PMD fallback, no fault_granule, a 5.10 page-table API.
/// </summary>
public sealed class V5_9Policy : FaultPolicy
{
    public override string Name => "v5.9";

    public override string Description => "Linux 5.10-rc1 (before 91a2c34b7d6f): THP adjust may run on a device pfn";

    public override Stage2ApiRevision PageTableApi => Stage2ApiRevision.V5_10;

    public override FaultResult UserMemAbort(in FaultContext ctx)
    {
        KvmVm vm = ctx.Vm;
        HostPageTableConfig host = vm.HostConfig;
        Memslot slot = ctx.Slot;
        DecisionRecord? x = ctx.Explain;
        ulong page = host.PageSize;
        bool perm = ctx.IsPermissionFault;
        bool logging = slot.IsLogging;

        if (KernelRules.IsUnexpectedReadPermissionFault(in ctx) || KernelRules.LookupVma(in ctx, "find_vma_intersection") is not { } vma)
            return FaultResult.Fail(Errno.EFAULT);

        bool forcePte = false;
        int shift = KernelRules.VmaShiftBefore2021(host, vma, logging, ref forcePte, x);
        // Only PUD and PMD sizes are checked against the slot: a CONT_PTE or CONT_PMD hugetlb size goes through
        // unchanged and is mapped whole from the faulting page.
        if (shift == host.PudShift && !host.PmdFolded && !KernelRules.FaultSupportsStage2HugeMapping(slot, ctx.Hva, host.PudSize, page, x))
            shift = host.PmdShift;
        if (shift == host.PmdShift && !KernelRules.FaultSupportsStage2HugeMapping(slot, ctx.Hva, host.PmdSize, page, x))
        {
            forcePte = true;
            shift = host.PageShift;
            x?.Note("user_mem_abort", "fall back to PAGE_SIZE with force_pte");
        }
        if (shift == host.ContPteShift || shift == host.ContPmdShift)
            x?.Note("user_mem_abort", $"contiguous hugetlb size {SizeText.Format(1UL << shift)} is not handled: mapped whole from the faulting page (no alignment)");

        ulong size = 1UL << shift;
        ulong ipa = KernelRules.AlignFaultIpa(host, ctx.FaultIpa, size);
        ulong gfnIpa = ipa & vm.Granule.PageMask;

        if (!KernelRules.FaultInPfn(in ctx, gfnIpa, "gfn_to_pfn_prot", out ulong pa, out bool writable))
            return FaultResult.Fail(Errno.EFAULT);

        bool device = vm.IsDevicePa(pa);
        if (device)
            x?.Note("kvm_is_device_pfn", $"PA 0x{pa:x} is not RAM: device — but force_pte is left as it was");
        else if (logging && !ctx.WriteFault)
            writable = false;

        if (ctx.ExecFault && device)
            return KernelRules.ExecOnDevice(x);

        bool touchedNonRam = false;
        if (size == page && !forcePte)
        {
            if (KernelRules.IsTransparentHugepage(vm, ctx.Hva, pa, ref touchedNonRam, x)
                && KernelRules.FaultSupportsStage2HugeMapping(slot, ctx.Hva, host.PmdSize, page, x))
            {
                ulong mask = ~(host.PmdSize - 1);
                ipa &= mask;
                pa &= mask;
                size = host.PmdSize;
            }
        }

        // 5.10-rc1 marks the page dirty before mapping it, whatever the map call returns.
        if (writable)
            vm.MarkPageDirty(slot, gfnIpa);
        Prot prot = KernelRules.FaultProt(writable, ctx.ExecFault, device ? Prot.Device : Prot.None, vm.Features.Dic, x);

        // No fault_granule yet: every permission fault relaxes, unless logging needs the block split.
        bool relax = perm && !(logging && writable);
        FaultResult result = KernelRules.Install(vm, relax, ipa, size, pa, prot, WalkFlags.None, x);
        result.TouchedNonRamPage = touchedNonRam;
        return result;
    }

    public override KvmResult PrepareMemoryRegion(KvmVm vm, Memslot? old, Memslot slot, MemslotChange change) =>
        MemslotChecks.MapPfnMapAtCreation(vm, slot, change, ipaLimitInclusive: true);

    public override void CommitMemoryRegion(KvmVm vm, Memslot? old, Memslot? slot, MemslotChange change) =>
        MemslotChecks.WriteProtectOnLogging(vm, slot, change);
}
