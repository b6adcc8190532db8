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

    // 6.17+: the memcache helper user_mem_abort and gmem_abort share.
    public const string PrepareMmuMemcache = "prepare_mmu_memcache";
    public const string GmemAbort = "gmem_abort";
    public const string KvmGmemGetPfn = "kvm_gmem_get_pfn";

    // 7.x (kvmarm/next, the v7.4 cycle): user_mem_abort as a driver over kvm_s2_fault_* steps.
    public const string TopupMmuMemcache = "topup_mmu_memcache";
    public const string KvmS2FaultPinPfn = "kvm_s2_fault_pin_pfn";
    public const string KvmS2FaultGetVmaInfo = "kvm_s2_fault_get_vma_info";
    public const string KvmS2ResolveVmaSize = "kvm_s2_resolve_vma_size";
    public const string GetCanonicalGfn = "get_canonical_gfn";
    public const string KvmS2FaultComputeProt = "kvm_s2_fault_compute_prot";
    public const string KvmS2FaultMap = "kvm_s2_fault_map";
    public const string ProtectedPkvmMemAbort = "protected_pkvm_mem_abort";
    public const string PinUserPages = "pin_user_pages";

    // Nested virtualization (a fault taken while an L2 guest runs on a shadow stage 2).
    public const string KvmWalkNestedS2 = "kvm_walk_nested_s2";
    public const string KvmS2HandlePermFault = "kvm_s2_handle_perm_fault";
    public const string KvmInjectS2Fault = "kvm_inject_s2_fault";
    public const string AdjustNestedFaultPerms = "adjust_nested_fault_perms";
    public const string AdjustNestedExecPerms = "adjust_nested_exec_perms";
}
