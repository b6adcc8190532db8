using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.PageTables;

namespace Stage2Lab.Kvm.Policies;

/// <summary>
/// Linux 5.13, before the 2021 series: a new slot's VM_PFNMAP VMAs are mapped page by page at once
/// (kvm_phys_addr_ioremap); at fault time VM_PFNMAP or logging forces PAGE_SIZE, a device pfn forces PAGE_SIZE
/// (91a2c34b7d6f), THP is recognised by kvm_is_transparent_hugepage(pfn).
/// </summary>
public class V5_13Policy : FaultPolicy
{
    public override string Name => "v5.13";

    public override string Description => "Linux 5.13 (before the patch): BARs mapped page by page at slot creation";

    public override Stage2ApiRevision PageTableApi => Stage2ApiRevision.V5_12;

    /// <summary>
    /// The first size user_mem_abort considers: the hstate size for hugetlbfs, else PAGE_SIZE; VM_PFNMAP (and
    /// logging) then force PAGE_SIZE. The seed's patch replaces this step.
    /// </summary>
    protected virtual int VmaShift(KvmVm vm, Vma vma, ulong hva, bool logging, ref bool forcePte, DecisionRecord? x) =>
        KernelRules.VmaShiftBefore2021(vm.HostConfig, vma, logging, ref forcePte, x);

    /// <summary>What a device pfn does to force_pte: 5.13 forces pages (91a2c34b7d6f).</summary>
    protected virtual bool DeviceForcesPte(ulong size, ulong pageSize) => true;

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

        if (KernelRules.IsUnexpectedReadPermissionFault(in ctx) || KernelRules.LookupVma(in ctx, "find_vma_intersection") is not { } vma)
            return FaultResult.Fail(Errno.EFAULT);

        bool forcePte = false;
        int shift = VmaShift(vm, vma, ctx.Hva, logging, ref forcePte, x);
        shift = KernelRules.ResolveVmaShift(host, slot, ctx.Hva, shift, ref forcePte, x);
        ulong size = 1UL << shift;
        ulong ipa = KernelRules.AlignFaultIpa(host, ctx.FaultIpa, size);
        ulong gfnIpa = ipa & vm.Granule.PageMask;

        if (!KernelRules.FaultInPfn(in ctx, gfnIpa, "gfn_to_pfn_prot", out ulong pa, out bool writable))
            return FaultResult.Fail(Errno.EFAULT);

        bool device = vm.IsDevicePa(pa);
        if (device)
        {
            if (DeviceForcesPte(size, page))
                forcePte = true;
            x?.Note("kvm_is_device_pfn", $"PA 0x{pa:x} is not RAM: device{(forcePte ? ", force_pte" : "")}");
        }
        else if (logging && !ctx.WriteFault)
        {
            writable = false;
            x?.Note("user_mem_abort", "logging and not a write: map read-only until the page is written");
        }

        if (ctx.ExecFault && device)
            return KernelRules.ExecOnDevice(x);

        bool touchedNonRam = false;
        if (size == page && !forcePte)
            size = TransparentHugepageAdjust(vm, slot, ctx.Hva, ref ipa, ref pa, ref touchedNonRam, x);

        Prot prot = KernelRules.FaultProt(writable, ctx.ExecFault, device ? Prot.Device : Prot.None, vm.Features.Dic, x);

        bool relax = perm && size == faultGranule;
        FaultResult result = KernelRules.Install(vm, relax, ipa, size, pa, prot, WalkFlags.HandleFault, x);
        result.TouchedNonRamPage = touchedNonRam;
        if (writable && result.PgtableErrno == 0)
            vm.MarkPageDirty(slot, gfnIpa);
        return result;
    }

    /// <summary>
    /// transparent_hugepage_adjust (5.5 → 5.14): kvm_is_transparent_hugepage(pfn) first, then the slot check;
    /// a THP maps PMD_SIZE from the PMD-aligned IPA and pfn.
    /// </summary>
    protected static ulong TransparentHugepageAdjust(KvmVm vm, Memslot slot, ulong hva, ref ulong ipa, ref ulong pa, ref bool touchedNonRam, DecisionRecord? x)
    {
        HostPageTableConfig host = vm.HostConfig;
        if (!KernelRules.IsTransparentHugepage(vm, hva, pa, ref touchedNonRam, x)
            || !KernelRules.FaultSupportsStage2HugeMapping(slot, hva, host.PmdSize, host.PageSize, x))
            return host.PageSize;
        ulong mask = ~(host.PmdSize - 1);
        ipa &= mask;
        pa &= mask;
        x?.Note("transparent_hugepage_adjust", $"THP: map {SizeText.Format(host.PmdSize)} at IPA 0x{ipa:x}, PA 0x{pa:x}");
        return host.PmdSize;
    }

    public override KvmResult PrepareMemoryRegion(KvmVm vm, Memslot? old, Memslot slot, MemslotChange change) =>
        MemslotChecks.MapPfnMapAtCreation(vm, slot, change, ipaLimitInclusive: false);

    public override void CommitMemoryRegion(KvmVm vm, Memslot? old, Memslot? slot, MemslotChange change) =>
        MemslotChecks.WriteProtectOnLogging(vm, slot, change);
}
