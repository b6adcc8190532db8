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

    public override Stage2ApiRevision PageTableApi => Stage2ApiRevision.V5_12;

    /// <summary>
    /// The first size user_mem_abort considers: the hstate size for hugetlbfs, else PAGE_SIZE; VM_PFNMAP (and
    /// logging) then force PAGE_SIZE. The seed's patch replaces this step.
    /// </summary>
    protected virtual int FirstMappingShift(in FaultContext ctx, Vma vma, bool logging, ref bool forcePte) =>
        KernelRules.FirstShiftBefore2021(in ctx, vma, logging, ref forcePte);

    /// <summary>What a device pfn does to force_pte: 5.13 forces pages (91a2c34b7d6f).</summary>
    protected virtual bool DeviceForcesPte(ulong size, ulong pageSize) => true;

    public override FaultResult UserMemAbort(in FaultContext ctx)
    {
        ulong page = ctx.PageSize;
        bool logging = ctx.Slot.IsLogging;

        if (KernelRules.IsUnexpectedReadPermissionFault(in ctx) || KernelRules.LookupVma(in ctx, KernelFunctions.FindVmaIntersection) is not { } vma)
            return FaultResult.Fail(Errno.EFAULT);

        bool forcePte = false;
        int shift = FirstMappingShift(in ctx, vma, logging, ref forcePte);
        shift = KernelRules.ResolveVmaShift(in ctx, shift, ref forcePte);
        ulong size = 1UL << shift;
        ulong ipa = KernelRules.AlignFaultIpa(in ctx, size);
        ulong gfnIpa = ipa & ctx.Granule.PageMask;

        if (!KernelRules.FaultInPfn(in ctx, gfnIpa, KernelFunctions.GfnToPfnProt, out ulong pa, out bool writable))
            return FaultResult.Fail(Errno.EFAULT);

        bool device = ctx.IsDevicePa(pa);
        if (device)
        {
            bool force = DeviceForcesPte(size, page);
            forcePte |= force;
            ctx.Explain?.Add(new DeviceDetectedStep(KernelFunctions.KvmIsDevicePfn, pa, vma.Flags, force ? DeviceEffect.ForcePte : DeviceEffect.KeepSize, size, page));
        }
        else if (logging && !ctx.WriteFault)
        {
            writable = KernelRules.LoggingReadOnly(in ctx);
        }

        if (ctx.ExecFault && device)
            return KernelRules.ExecOnDevice(in ctx);

        bool touchedNonRam = false;
        if (size == page && !forcePte)
            size = TransparentHugepageAdjust(in ctx, ref ipa, ref pa, ref touchedNonRam);

        Prot prot = KernelRules.FaultProt(in ctx, writable, device ? Prot.Device : Prot.None);

        bool relax = ctx.IsPermissionFault && size == ctx.PermissionFaultGranule;
        FaultResult result = KernelRules.Install(in ctx, relax, ipa, size, pa, prot, WalkFlags.HandleFault) with { TouchedNonRamPage = touchedNonRam };
        return KernelRules.MarkDirtyIfWritten(in ctx, in result, writable, gfnIpa);
    }

    /// <summary>
    /// transparent_hugepage_adjust (5.5 → 5.14): kvm_is_transparent_hugepage(pfn) first, then the slot check;
    /// a THP maps PMD_SIZE from the PMD-aligned IPA and pfn.
    /// </summary>
    protected static ulong TransparentHugepageAdjust(in FaultContext ctx, ref ulong ipa, ref ulong pa, ref bool touchedNonRam)
    {
        HostPageTableConfig host = ctx.HostConfig;
        if (!KernelRules.IsTransparentHugepage(in ctx, pa, ref touchedNonRam)
            || !KernelRules.FaultSupportsStage2HugeMapping(in ctx, host.PmdSize))
            return host.PageSize;
        ulong mask = ~(host.PmdSize - 1);
        ipa &= mask;
        pa &= mask;
        ctx.Explain?.Add(new ThpAdjustStep(host.PageSize, host.PmdSize, ipa, pa));
        return host.PmdSize;
    }

    public override KvmResult PrepareMemoryRegion(in MemslotContext ctx, Memslot? old, Memslot slot, MemslotChange change) =>
        MemslotChecks.MapPfnMapAtCreation(in ctx, slot, change, ipaLimitInclusive: false);

    public override void CommitMemoryRegion(in MemslotContext ctx, Memslot? old, Memslot? slot, MemslotChange change) =>
        MemslotChecks.WriteProtectOnLogging(in ctx, slot, change);
}
