using Stage2Lab.Arch;
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

    public override Stage2ApiRevision PageTableApi => Stage2ApiRevision.V5_12;

    public override FaultResult UserMemAbort(in FaultContext ctx)
    {
        ulong page = ctx.PageSize;
        bool logging = ctx.Slot.IsLogging;

        if (KernelRules.IsUnexpectedReadPermissionFault(in ctx) || KernelRules.LookupVma(in ctx, KernelFunctions.VmaLookup) is not { } vma)
            return FaultResult.Fail(Errno.EFAULT);

        bool forcePte = false;
        int shift = logging ? KernelRules.ForcePteForLogging(in ctx, ref forcePte) : KernelRules.GetVmaPageShift(in ctx, vma);
        shift = KernelRules.ResolveVmaShift(in ctx, shift, ref forcePte);
        ulong size = 1UL << shift;
        ulong ipa = KernelRules.AlignFaultIpa(in ctx, size);
        ulong gfnIpa = ipa & ctx.Granule.PageMask;

        if (!KernelRules.FaultInPfn(in ctx, gfnIpa, KernelFunctions.GfnToPfnMemslot, out ulong pa, out bool writable))
            return FaultResult.Fail(Errno.EFAULT);

        // kvm_is_device_pfn: any pfn that is not RAM. The VMA already gave the largest size to map; THP must not grow it.
        bool device = ctx.IsDevicePa(pa);
        if (device)
            ctx.Explain?.Add(new DeviceDetectedStep(KernelFunctions.KvmIsDevicePfn, pa, vma.Flags, DeviceEffect.NoThpUpgrade, size, page));
        else if (logging && !ctx.WriteFault)
            writable = KernelRules.LoggingReadOnly(in ctx);

        if (ctx.ExecFault && device)
            return KernelRules.ExecOnDevice(in ctx);

        if (size == page && !(forcePte || device))
            size = KernelRules.KeepFaultGranuleOrAdjustThp(in ctx, ref ipa, ref pa);

        Prot prot = KernelRules.FaultProt(in ctx, writable, device ? Prot.Device : Prot.None);

        bool relax = ctx.IsPermissionFault && size == ctx.PermissionFaultGranule;
        FaultResult result = KernelRules.Install(in ctx, relax, ipa, size, pa, prot, WalkFlags.HandleFault);
        return KernelRules.MarkDirtyIfWritten(in ctx, in result, writable, gfnIpa);
    }

    /// <summary>kvm_arch_prepare_memory_region (5.14/5.15): IPA bound, and no dirty logging on VM_PFNMAP.</summary>
    public override KvmResult PrepareMemoryRegion(in MemslotContext ctx, Memslot? old, Memslot slot, MemslotChange change) =>
        MemslotChecks.Lazy(in ctx, slot, change, ipaLimitInclusive: false);

    /// <summary>kvm_arch_commit_memory_region (5.x): enabling logging write-protects the slot.</summary>
    public override void CommitMemoryRegion(in MemslotContext ctx, Memslot? old, Memslot? slot, MemslotChange change) =>
        MemslotChecks.WriteProtectOnLogging(in ctx, slot, change);
}
