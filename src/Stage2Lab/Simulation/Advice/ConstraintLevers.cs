using Stage2Lab.Host;
using Stage2Lab.Kvm;

namespace Stage2Lab.Simulation.Advice;

/// <summary>
/// Which changes can lift a binding constraint: the step that stopped a larger mapping, by kind and reason, mapped
/// to the kinds of change worth trying (docs/advise.md has the same table). A lever is only a candidate: every one
/// is verified by running the changed scenario, and one that saves nothing is not shown.
/// </summary>
public static class ConstraintLevers
{
    private static readonly ChangeKind[] None = [];
    private static readonly ChangeKind[] Alignment = [ChangeKind.AlignHva, ChangeKind.AlignIpa];
    private static readonly ChangeKind[] Edges = [ChangeKind.AlignHva, ChangeKind.AlignIpa, ChangeKind.ResizeSlot];
    private static readonly ChangeKind[] Logging = [ChangeKind.NoDirtyLogging, ChangeKind.SplitSlot, ChangeKind.Granule];
    private static readonly ChangeKind[] PagesOnly = [ChangeKind.Granule];
    private static readonly ChangeKind[] BiggerHugetlb = [ChangeKind.Hugetlb];
    private static readonly ChangeKind[] HugePages = [ChangeKind.Thp, ChangeKind.Hugetlb];

    /// <summary>The kinds of change that can lift <paramref name="binding"/>, a constraint of <paramref name="record"/>.</summary>
    public static IReadOnlyList<ChangeKind> For(DecisionStep binding, DecisionRecord record) => binding switch
    {
        // get_vma_page_shift / device_rough_page_shift: hva ≢ pa is an alignment; a block past the VMA's ends is its size.
        PfnMapBlockCheckStep { Result: PfnMapBlockResult.PaMisaligned } => [ChangeKind.AlignHva],
        PfnMapBlockCheckStep => [ChangeKind.ResizeSlot],
        // fault_supports_stage2_huge_mapping: IPA ≢ HVA, or the block sticks out of the slot.
        HugeMappingCheckStep { Result: HugeMappingResult.ResidueMismatch } => Alignment,
        HugeMappingCheckStep { Result: HugeMappingResult.OutsideSlot } => [ChangeKind.ResizeSlot],
        // pKVM supports PMD blocks only; a protected guest gets pages: no layout changes that.
        HugeMappingCheckStep { Result: HugeMappingResult.ProtectedKvmPmdOnly } => None,
        HugeMappingCheckStep => PagesOnly,
        ForcePteStep { Reason: ForcePteReason.DirtyLogging } => Logging,
        ForcePteStep { Reason: ForcePteReason.NoBlockFitsSlot } => Edges,
        ForcePteStep { Reason: ForcePteReason.ContPteHugetlb } => BiggerHugetlb,
        // Before 5.14 a VM_PFNMAP VMA and a device pfn are mapped with pages whatever the layout.
        ForcePteStep => PagesOnly,
        MaxMapSizeStep { Reason: MaxMapSizeReason.DirtyLogging } => Logging,
        MaxMapSizeStep { Reason: MaxMapSizeReason.NoBlockFitsSlot } => Edges,
        MaxMapSizeStep => BiggerHugetlb,
        // A hugetlbfs page (or CONT_PMD run) smaller than the largest block: bigger hugetlbfs pages.
        HugetlbShiftStep or ContPmdStep => BiggerHugetlb,
        // transparent_hugepage_adjust: no THP behind the page (THP or hugetlbfs), or a THP, which is PMD size at most (hugetlbfs).
        ThpHostLeafCheckStep t when t.LeafSizeBytes < t.PmdSizeBytes => record.Vma is { Kind: VmaKind.Anonymous } ? HugePages : None,
        ThpHostLeafCheckStep or ThpAdjustStep => BiggerHugetlb,
        ThpPageCheckStep { IsRam: true } => HugePages,
        ThpPageCheckStep => PagesOnly,
        // host-pte: the host's own leaf size bounds the mapping.
        HostLeafSizeStep => [ChangeKind.HostHugePfnmap],
        DeviceDetectedStep or IoremapAtCreationStep or GmemPageSizeStep or ProtectedPageStep => PagesOnly,
        // The L1 hypervisor's own stage 2 bounds a nested guest's mapping: its business, not this VM's layout.
        NestedClampStep => None,
        _ => None,
    };

    /// <summary>
    /// The binding constraint of a decision as advise sees it: for a fault, the first step that kept the mapping
    /// smaller than the largest block; for a memslot ioctl that mapped at once (before 5.14), its ioremap.
    /// </summary>
    public static DecisionStep? BindingOf(DecisionRecord record)
    {
        if (record.SlotChange is null)
            return record.BindingConstraint;
        foreach (DecisionStep step in record.Steps)
        {
            if (step.LimitsSize(record.MaxBlockSizeBytes))
                return step;
        }
        return null;
    }
}
