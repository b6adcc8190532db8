using Stage2Lab.Arch;
using Stage2Lab.Host;

namespace Stage2Lab.Kvm;

/// <summary>
/// One step of a fault decision, as data: the kernel function it comes from and the numbers it used. The set is
/// closed (every step is one of the sealed records below); Reports renders each as a sentence. Steps are built
/// only when a decision is being recorded, so the fault path allocates nothing otherwise.
/// </summary>
public abstract record DecisionStep
{
    private protected DecisionStep(string function) => Function = function;

    /// <summary>The kernel function (or hardware step) this comes from, as the kernel names it.</summary>
    public string Function { get; }

    /// <summary>For a test: whether it passed. Null for a step that decides without a test.</summary>
    public virtual bool? Passed => null;

    /// <summary>
    /// Whether this step kept the mapping from being larger than the largest block KVM uses at stage 2
    /// (<paramref name="maxBlockBytes"/>): a failed size test, a forced page, a backing that is only so large.
    /// The first such step of a decision is its binding constraint.
    /// </summary>
    public virtual bool LimitsSize(ulong maxBlockBytes) => false;
}

/// <summary>What the stage-2 walk found (the hardware, before any software runs).</summary>
public enum WalkFinding : byte
{
    /// <summary>A valid leaf allows the access: no fault.</summary>
    Hit,
    /// <summary>No valid entry: a translation fault at the level the walk stopped.</summary>
    TranslationFault,
    /// <summary>A valid leaf without the permission: a permission fault at its level.</summary>
    PermissionFault,
    /// <summary>The IPA is at or above 2^IPA-bits: a translation fault at the start level.</summary>
    BeyondIpaSize,
}

/// <summary>The hardware stage-2 walk of the access (the MMU, before kvm_handle_guest_abort).</summary>
public sealed record HardwareWalkStep(ulong Ipa, WalkFinding Finding, int Level, ulong Pa, int IpaBits)
    : DecisionStep(KernelFunctions.HardwareWalk);

/// <summary>kvm_handle_guest_abort (2022+): an IPA between the VM's IPA size and PARange gets an external abort.</summary>
public sealed record AbortInjectedStep(ulong Ipa, int IpaBits) : DecisionStep(KernelFunctions.KvmHandleGuestAbort)
{
    public override bool? Passed => false;
}

/// <summary>The memslot and HVA of the faulting gfn (gfn_to_hva_memslot_prot); no slot or a write to a READONLY slot is MMIO.</summary>
public sealed record MemslotLookupStep(ulong FaultIpa, MemslotInfo? Slot, bool WriteToReadOnly, ulong Hva)
    : DecisionStep(KernelFunctions.GfnToHvaMemslotProt)
{
    public override bool? Passed => Slot is not null && !WriteToReadOnly ? null : false;
}

/// <summary>The exit to the VMM (io_mem_abort): nothing is mapped.</summary>
public sealed record MmioExitStep() : DecisionStep(KernelFunctions.IoMemAbort);

/// <summary>An instruction fetch outside every memslot: -ENOEXEC, an abort injected into the guest.</summary>
public sealed record ExecOutsideMemslotStep() : DecisionStep(KernelFunctions.KvmHandleGuestAbort);

/// <summary>The VMA holding the faulting HVA (vma_lookup, find_vma_intersection); none is -EFAULT.</summary>
public sealed record VmaLookupStep(string Function, ulong Hva, VmaInfo? Vma) : DecisionStep(Function)
{
    public override bool? Passed => Vma is not null;
}

/// <summary>A read permission fault, which KVM never causes (everything is mapped readable): -EFAULT (5.5 → 5.15).</summary>
public sealed record UnexpectedPermissionFaultStep() : DecisionStep(KernelFunctions.UserMemAbort)
{
    public override bool? Passed => false;
}

/// <summary>Why a fault path set force_pte (or, in newer kernels, capped the size at PAGE_SIZE).</summary>
public enum ForcePteReason : byte
{
    /// <summary>Dirty logging is on: every written page must be tracked.</summary>
    DirtyLogging,
    /// <summary>Before 2021: a VM_PFNMAP VMA is mapped page by page.</summary>
    PfnMapBefore2021,
    /// <summary>Neither PUD nor PMD blocks fit the slot: fall back to PAGE_SIZE.</summary>
    NoBlockFitsSlot,
    /// <summary>A CONT_PTE hugetlb page is mapped with pages.</summary>
    ContPteHugetlb,
    /// <summary>A device pfn forces pages (91a2c34b7d6f; the seed only when the size already is a page).</summary>
    DevicePfn,
}

/// <summary>force_pte: PAGE_SIZE and no THP upgrade.</summary>
public sealed record ForcePteStep(string Function, ForcePteReason Reason, ulong FromSizeBytes) : DecisionStep(Function)
{
    public override bool LimitsSize(ulong maxBlockBytes) => true;
}

/// <summary>is_vm_hugetlb_page → huge_page_shift(hstate_vma(vma)): the hugetlbfs page size.</summary>
public sealed record HugetlbShiftStep(string Function, ulong HugePageSizeBytes) : DecisionStep(Function)
{
    public override bool LimitsSize(ulong maxBlockBytes) => HugePageSizeBytes < maxBlockBytes;
}

/// <summary>Why the VMA gives PAGE_SIZE (get_vma_page_shift, device_rough_page_shift).</summary>
public enum VmaPageReason : byte
{
    /// <summary>Not VM_PFNMAP (and not hugetlb): PAGE_SHIFT, THP may still upgrade.</summary>
    NotPfnMap,
    /// <summary>VM_PFNMAP but no block size passed the tests.</summary>
    NoBlockFits,
}

/// <summary>The VMA gives PAGE_SIZE.</summary>
public sealed record VmaPageSizeStep(string Function, VmaPageReason Reason, ulong PageSizeBytes) : DecisionStep(Function);

/// <summary>How one block size fared in the PFNMAP test of get_vma_page_shift / device_rough_page_shift.</summary>
public enum PfnMapBlockResult : byte
{
    Fits,
    /// <summary>hva and pa (from vm_pgoff) differ modulo the size.</summary>
    PaMisaligned,
    /// <summary>ALIGN_DOWN(hva, size) &lt; vm_start.</summary>
    BelowVmStart,
    /// <summary>ALIGN(hva, size) &gt; vm_end.</summary>
    BeyondVmEnd,
}

/// <summary>
/// The PUD/PMD test of get_vma_page_shift (5.14+) and device_rough_page_shift (the seed): with
/// pa = (vm_pgoff &lt;&lt; PAGE_SHIFT) + (hva - vm_start), hva ≡ pa, ALIGN_DOWN(hva) ≥ vm_start, ALIGN(hva) ≤ vm_end.
/// </summary>
public sealed record PfnMapBlockCheckStep(
    string Function, ulong SizeBytes, ulong Hva, ulong Pa, ulong PgOff, ulong VmStart, ulong VmEnd, PfnMapBlockResult Result, PfnMapChecks Checks)
    : DecisionStep(Function)
{
    public override bool? Passed => Result == PfnMapBlockResult.Fits;

    public override bool LimitsSize(ulong maxBlockBytes) => Result != PfnMapBlockResult.Fits;

    public ulong AlignedDownHva => Hva & ~(SizeBytes - 1);

    public ulong AlignedUpHva => (Hva + SizeBytes - 1) & ~(SizeBytes - 1);

    /// <summary>The literal ALIGN test passed for a block-aligned hva whose block still runs past vm_end.</summary>
    public bool RunsPastVmEndUnchecked => Result == PfnMapBlockResult.Fits && (Checks & PfnMapChecks.VmaBounds) != 0
        && AlignedUpHva == Hva && Hva + SizeBytes > VmEnd;
}

/// <summary>How fault_supports_stage2_huge_mapping answered.</summary>
public enum HugeMappingResult : byte
{
    Supported,
    /// <summary>The slot's IPA and HVA have different offsets within a block.</summary>
    ResidueMismatch,
    /// <summary>The block around hva does not lie inside the slot.</summary>
    OutsideSlot,
    /// <summary>pKVM (a non-protected guest under protected KVM) supports PMD_SIZE blocks only.</summary>
    ProtectedKvmPmdOnly,
    /// <summary>7.x: a protected guest (vcpu_is_protected) gets no block at all.</summary>
    ProtectedGuest,
}

/// <summary>
/// fault_supports_stage2_huge_mapping (5.4 → 7.4): the slot's IPA and HVA agree modulo the size, and the block
/// around hva lies inside the slot.
/// </summary>
public sealed record HugeMappingCheckStep(ulong SizeBytes, ulong Hva, ulong SlotIpa, ulong SlotHva, ulong SlotHvaEnd, HugeMappingResult Result)
    : DecisionStep(KernelFunctions.FaultSupportsStage2HugeMapping)
{
    public override bool? Passed => Result == HugeMappingResult.Supported;

    public override bool LimitsSize(ulong maxBlockBytes) => Result != HugeMappingResult.Supported;

    public ulong IpaResidue => SlotIpa & (SizeBytes - 1);

    public ulong HvaResidue => SlotHva & (SizeBytes - 1);

    public ulong BlockHva => Hva & ~(SizeBytes - 1);
}

/// <summary>A CONT_PMD hugetlb page is mapped with PMD_SIZE blocks.</summary>
public sealed record ContPmdStep(ulong ContPmdSizeBytes, ulong PmdSizeBytes, string Caller = KernelFunctions.UserMemAbort) : DecisionStep(Caller)
{
    public override bool LimitsSize(ulong maxBlockBytes) => PmdSizeBytes < maxBlockBytes;
}

/// <summary>v5.9: a contiguous hugetlb size is not handled and is mapped whole from the faulting page.</summary>
public sealed record UnhandledContiguousHugetlbStep(ulong SizeBytes) : DecisionStep(KernelFunctions.UserMemAbort);

/// <summary>The guest page faulted in on the host (gfn_to_pfn_prot, __gfn_to_pfn_memslot, __kvm_faultin_pfn).</summary>
public sealed record PfnFaultInStep(string Function, ulong Gfn, ulong Pa, bool Writable, bool Found) : DecisionStep(Function)
{
    public override bool? Passed => Found ? null : false;
}

/// <summary>What a device pfn does to the decision, by kernel version.</summary>
public enum DeviceEffect : byte
{
    /// <summary>5.13: force_pte (91a2c34b7d6f).</summary>
    ForcePte,
    /// <summary>The seed: force_pte only when the size already is PAGE_SIZE; here it stays off.</summary>
    KeepSize,
    /// <summary>v5.9: force_pte left as it was (the bug).</summary>
    ForcePteLeftAsIs,
    /// <summary>5.14: no force_pte, but no THP upgrade either.</summary>
    NoThpUpgrade,
    /// <summary>6.x: PFNMAP/MIXEDMAP over a non-RAM pfn: s2_force_noncacheable, no THP upgrade.</summary>
    ForceNonCacheable,
}

/// <summary>The faulting pfn is device memory (kvm_is_device_pfn, or VM_PFNMAP/VM_MIXEDMAP and !pfn_is_map_memory).</summary>
public sealed record DeviceDetectedStep(string Function, ulong Pa, VmFlags VmFlags, DeviceEffect Effect, ulong SizeBytes, ulong PageSizeBytes) : DecisionStep(Function)
{
    public override bool LimitsSize(ulong maxBlockBytes) =>
        SizeBytes == PageSizeBytes && Effect is DeviceEffect.ForcePte or DeviceEffect.NoThpUpgrade or DeviceEffect.ForceNonCacheable;
}

/// <summary>kvm_supports_cacheable_pfnmap: a cacheable PFNMAP of a non-RAM pfn needs FWB and DIC (-EFAULT otherwise).</summary>
public sealed record CacheablePfnMapCheckStep(bool Fwb, bool Dic) : DecisionStep(KernelFunctions.KvmSupportsCacheablePfnmap)
{
    public override bool? Passed => Fwb && Dic;
}

/// <summary>Logging and not a write: mapped read-only until the page is written.</summary>
public sealed record LoggingReadOnlyStep(string Caller = KernelFunctions.UserMemAbort) : DecisionStep(Caller);

/// <summary>An instruction fetch from device memory: -ENOEXEC.</summary>
public sealed record ExecOnDeviceStep(string Caller = KernelFunctions.UserMemAbort) : DecisionStep(Caller)
{
    public override bool? Passed => false;
}

/// <summary>A permission fault on a block keeps the block's size (fault_granule, 5.15+).</summary>
public sealed record FaultGranuleKeptStep(ulong SizeBytes, string Caller = KernelFunctions.UserMemAbort) : DecisionStep(Caller);

/// <summary>
/// transparent_hugepage_adjust (5.15+): the host leaf size from get_user_mapping_size; a THP (a leaf of at least
/// PMD_SIZE) maps PMD_SIZE from the PMD-aligned <see cref="Ipa"/> and <see cref="Pa"/> — never more.
/// </summary>
public sealed record ThpHostLeafCheckStep(ulong Hva, ulong LeafSizeBytes, ulong PmdSizeBytes, ulong Ipa, ulong Pa)
    : DecisionStep(KernelFunctions.TransparentHugepageAdjust)
{
    public override bool? Passed => LeafSizeBytes >= PmdSizeBytes;

    public override bool LimitsSize(ulong maxBlockBytes) => LeafSizeBytes < PmdSizeBytes || PmdSizeBytes < maxBlockBytes;
}

/// <summary>kvm_is_transparent_hugepage (5.5 → 5.14): PageTransCompoundMap(pfn_to_page(pfn)).</summary>
public sealed record ThpPageCheckStep(ulong Pa, int PageShift, bool IsRam, bool IsThp) : DecisionStep(KernelFunctions.KvmIsTransparentHugepage)
{
    public override bool? Passed => IsThp;

    public override bool LimitsSize(ulong maxBlockBytes) => !IsThp;
}

/// <summary>transparent_hugepage_adjust: a THP maps PMD_SIZE from the PMD-aligned IPA and pfn (THP is PMD size at most).</summary>
public sealed record ThpAdjustStep(ulong FromSizeBytes, ulong ToSizeBytes, ulong Ipa, ulong Pa) : DecisionStep(KernelFunctions.TransparentHugepageAdjust)
{
    public override bool LimitsSize(ulong maxBlockBytes) => ToSizeBytes < maxBlockBytes;
}

/// <summary>host-pte (the 2025 proposal): a VM_PFNMAP mapping is as large as the host page-table leaf.</summary>
public sealed record HostLeafSizeStep(ulong Hva, ulong LeafSizeBytes, ulong Pa) : DecisionStep(KernelFunctions.HostPageTable)
{
    public override bool LimitsSize(ulong maxBlockBytes) => LeafSizeBytes < maxBlockBytes;
}

/// <summary>Why the memory type in prot is what it is.</summary>
public enum ProtReason : byte
{
    /// <summary>Normal memory, CPU without DIC: not executable unless the fault is a fetch.</summary>
    Normal,
    /// <summary>Normal memory on a CPU with DIC: executable (no I-cache maintenance needed).</summary>
    NormalDic,
    /// <summary>Device-nGnRE.</summary>
    Device,
    /// <summary>VM_ALLOW_ANY_UNCACHED: Normal non-cacheable.</summary>
    NormalNonCacheable,
}

/// <summary>The prot user_mem_abort asks for.</summary>
public sealed record ProtStep(string Function, Prot Prot, ProtReason Reason) : DecisionStep(Function);

/// <summary>Which page-table call user_mem_abort ends with.</summary>
public enum InstallOp : byte
{
    Map,
    Relax,
}

/// <summary>kvm_pgtable_stage2_map or kvm_pgtable_stage2_relax_perms, with its arguments and return.</summary>
public sealed record InstallStep(InstallOp Op, ulong Ipa, ulong SizeBytes, ulong Pa, Prot Prot, int Errno)
    : DecisionStep(Op == InstallOp.Map ? KernelFunctions.Stage2Map : KernelFunctions.Stage2RelaxPerms)
{
    public override bool? Passed => Errno == 0 ? null : false;
}

/// <summary>
/// For an explanation only (not the kernel's): the new leaf maps the faulting page to a PA the host does not map
/// at its HVA (or the HVA has no VMA): a wrong-PA mapping.
/// </summary>
public sealed record HostMismatchStep(ulong Ipa, ulong Hva, ulong MappedPa, ulong? HostPa) : DecisionStep(KernelFunctions.HostPageTable)
{
    public override bool? Passed => false;
}

/// <summary>
/// kvm_arch_prepare_memory_region before 5.14: a VM_PFNMAP VMA of the new slot mapped at once, page by page
/// (kvm_phys_addr_ioremap).
/// </summary>
public sealed record IoremapAtCreationStep(ulong Ipa, ulong Pa, ulong SizeBytes, ulong Pages, int Errno) : DecisionStep(KernelFunctions.KvmPhysAddrIoremap)
{
    public override bool? Passed => Errno == 0 ? null : false;

    public override bool LimitsSize(ulong maxBlockBytes) => true;
}

/// <summary>Which of the seed's two points a PFNMAP block-size test checks (all of them in every real kernel).</summary>
[Flags]
public enum PfnMapChecks : byte
{
    None = 0,
    /// <summary>The seed's first point: HVA and PA congruent modulo the block size.</summary>
    PaAlignment = 1,
    /// <summary>The seed's second point: the block lies inside the VMA.</summary>
    VmaBounds = 2,
    All = PaAlignment | VmaBounds,
}

/// <summary>A memslot as a decision saw it.</summary>
public readonly record struct MemslotInfo(int Id, ulong Ipa, ulong SizeBytes, ulong Hva, MemslotFlags Flags)
{
    public static MemslotInfo Of(Memslot slot) => new(slot.Id, slot.Ipa, slot.SizeBytes, slot.UserspaceAddr, slot.Flags);

    public ulong IpaEnd => Ipa + SizeBytes;

    public ulong HvaEnd => Hva + SizeBytes;
}

/// <summary>A VMA as a decision saw it.</summary>
public readonly record struct VmaInfo(string? Name, VmaKind Kind, ulong Start, ulong End, VmFlags Flags, ulong PgOff, ulong HugePageSizeBytes, bool Thp, bool HostPmd)
{
    public static VmaInfo Of(Vma vma) =>
        new(vma.Name, vma.Kind, vma.Start, vma.End, vma.Flags, vma.PgOff, vma.HugePageSize, vma.Thp, vma.HostPmd);
}
