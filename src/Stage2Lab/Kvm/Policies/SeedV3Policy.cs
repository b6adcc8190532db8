using Stage2Lab.Host;

namespace Stage2Lab.Kvm.Policies;

/// <summary>
/// The patch as posted in the seed: "[PATCH v3 1/2] kvm/arm64: Remove the creation time's mapping of MMIO
/// regions" and "[PATCH v3 2/2] kvm/arm64: Try stage2 block mapping for host device MMIO" (Keqian Zhu, April
/// 2021) applied to 5.13 — so this is the 5.13 fault path with the two steps the patch changes:
/// device_rough_page_shift for VM_PFNMAP (hugetlb checked first, only logging forces PAGE_SIZE), and a device
/// pfn forcing PAGE_SIZE only when the size is already PAGE_SIZE.
/// </summary>
public sealed class SeedV3Policy : V5_13Policy
{
    public override string Name => "seed-v3";

    /// <summary>Patch 2/2: hugetlb, else VM_PFNMAP → device_rough_page_shift, else PAGE; logging forces PAGE.</summary>
    protected override int FirstMappingShift(in FaultContext ctx, Vma vma, bool logging, ref bool forcePte)
    {
        int shift = vma.IsHugetlb ? KernelRules.HugePageShift(in ctx, vma, KernelFunctions.UserMemAbort)
            : vma.IsPfnMap ? KernelRules.PfnMapBlockShift(in ctx, vma, KernelFunctions.DeviceRoughPageShift)
            : ctx.HostConfig.PageShift;
        return logging ? KernelRules.ForcePteForLogging(in ctx, ref forcePte) : shift;
    }

    /// <summary>Patch 2/2: <c>force_pte = (vma_pagesize == PAGE_SIZE)</c> for a device pfn.</summary>
    protected override bool DeviceForcesPte(ulong size, ulong pageSize) => size == pageSize;

    /// <summary>Patch 1/2: no creation-time mapping; the dirty-logging check stays.</summary>
    public override KvmResult PrepareMemoryRegion(in MemslotContext ctx, Memslot? old, Memslot slot, MemslotChange change) =>
        MemslotChecks.Lazy(in ctx, slot, change, ipaLimitInclusive: false);
}
