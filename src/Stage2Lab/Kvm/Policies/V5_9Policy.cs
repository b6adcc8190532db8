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

    public override Stage2ApiRevision PageTableApi => Stage2ApiRevision.V5_10;

    public override FaultResult UserMemAbort(in FaultContext ctx)
    {
        HostPageTableConfig host = ctx.HostConfig;
        ulong page = host.PageSize;
        bool logging = ctx.Slot.IsLogging;

        if (KernelRules.IsUnexpectedReadPermissionFault(in ctx) || KernelRules.LookupVma(in ctx, KernelFunctions.FindVmaIntersection) is not { } vma)
            return FaultResult.Fail(Errno.EFAULT);

        bool forcePte = false;
        int shift = KernelRules.FirstShiftBefore2021(in ctx, vma, logging, ref forcePte);
        // Only PUD and PMD sizes are checked against the slot: a CONT_PTE or CONT_PMD hugetlb size goes through
        // unchanged and is mapped whole from the faulting page.
        if (shift == host.PudShift && !host.PmdFolded && !KernelRules.FaultSupportsStage2HugeMapping(in ctx, host.PudSize))
            shift = host.PmdShift;
        if (shift == host.PmdShift && !KernelRules.FaultSupportsStage2HugeMapping(in ctx, host.PmdSize))
        {
            forcePte = true;
            ctx.Explain?.Add(new ForcePteStep(KernelFunctions.UserMemAbort, ForcePteReason.NoBlockFitsSlot, host.PmdSize));
            shift = host.PageShift;
        }
        if (shift == host.ContPteShift || shift == host.ContPmdShift)
            ctx.Explain?.Add(new UnhandledContiguousHugetlbStep(1UL << shift));

        ulong size = 1UL << shift;
        ulong ipa = KernelRules.AlignFaultIpa(in ctx, size);
        ulong gfnIpa = ipa & ctx.Granule.PageMask;

        if (!KernelRules.FaultInPfn(in ctx, gfnIpa, KernelFunctions.GfnToPfnProt, out ulong pa, out bool writable))
            return FaultResult.Fail(Errno.EFAULT);

        bool device = ctx.IsDevicePa(pa);
        if (device)
            ctx.Explain?.Add(new DeviceDetectedStep(KernelFunctions.KvmIsDevicePfn, pa, vma.Flags, DeviceEffect.ForcePteLeftAsIs, size, page));
        else if (logging && !ctx.WriteFault)
            writable = false;

        if (ctx.ExecFault && device)
            return KernelRules.ExecOnDevice(in ctx);

        bool touchedNonRam = false;
        if (size == page && !forcePte)
        {
            if (KernelRules.IsTransparentHugepage(in ctx, pa, ref touchedNonRam)
                && KernelRules.FaultSupportsStage2HugeMapping(in ctx, host.PmdSize))
            {
                ulong mask = ~(host.PmdSize - 1);
                ipa &= mask;
                pa &= mask;
                size = host.PmdSize;
                ctx.Explain?.Add(new ThpAdjustStep(page, size, ipa, pa));
            }
        }

        // 5.10-rc1 marks the page dirty before mapping it, whatever the map call returns.
        bool markedDirty = writable && ctx.MarkPageDirty(gfnIpa);
        Prot prot = KernelRules.FaultProt(in ctx, writable, device ? Prot.Device : Prot.None);

        // No fault_granule yet: every permission fault relaxes, unless logging needs the block split.
        bool relax = ctx.IsPermissionFault && !(logging && writable);
        return KernelRules.Install(in ctx, relax, ipa, size, pa, prot, WalkFlags.None) with { TouchedNonRamPage = touchedNonRam, MarkedDirty = markedDirty };
    }

    public override KvmResult PrepareMemoryRegion(in MemslotContext ctx, Memslot? old, Memslot slot, MemslotChange change) =>
        MemslotChecks.MapPfnMapAtCreation(in ctx, slot, change, ipaLimitInclusive: true);

    public override void CommitMemoryRegion(in MemslotContext ctx, Memslot? old, Memslot? slot, MemslotChange change) =>
        MemslotChecks.WriteProtectOnLogging(in ctx, slot, change);
}
