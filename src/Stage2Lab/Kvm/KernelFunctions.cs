namespace Stage2Lab.Kvm;

/// <summary>
/// The names decision steps carry: the kernel functions of arch/arm64/kvm/mmu.c, virt/kvm and hyp/pgtable.c as
/// each version spells them, plus the two steps that are not kernel code (the hardware walk, the host page table).
/// </summary>
public static class KernelFunctions
{
    public const string HardwareWalk = "hardware walk";
    public const string HostPageTable = "host page table";
    public const string KvmHandleGuestAbort = "kvm_handle_guest_abort";
    public const string GfnToHvaMemslotProt = "gfn_to_hva_memslot_prot";
    public const string IoMemAbort = "io_mem_abort";
    public const string UserMemAbort = "user_mem_abort";
    public const string VmaLookup = "vma_lookup";
    public const string FindVmaIntersection = "find_vma_intersection";
    public const string GetVmaPageShift = "get_vma_page_shift";
    public const string DeviceRoughPageShift = "device_rough_page_shift";
    public const string FaultSupportsStage2HugeMapping = "fault_supports_stage2_huge_mapping";
    public const string GfnToPfnProt = "gfn_to_pfn_prot";
    public const string GfnToPfnMemslot = "__gfn_to_pfn_memslot";
    public const string KvmFaultinPfn = "__kvm_faultin_pfn";
    public const string KvmIsDevicePfn = "kvm_is_device_pfn";
    public const string KvmSupportsCacheablePfnmap = "kvm_supports_cacheable_pfnmap";
    public const string TransparentHugepageAdjust = "transparent_hugepage_adjust";
    public const string KvmIsTransparentHugepage = "kvm_is_transparent_hugepage";
    public const string Stage2Map = "kvm_pgtable_stage2_map";
    public const string Stage2RelaxPerms = "kvm_pgtable_stage2_relax_perms";
    public const string KvmPhysAddrIoremap = "kvm_phys_addr_ioremap";
}
