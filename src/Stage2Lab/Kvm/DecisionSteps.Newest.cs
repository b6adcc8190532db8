using Stage2Lab.Arch;

namespace Stage2Lab.Kvm;

// The decision steps only the newest fault paths take: the memcache top-up, 7.x's max_map_size, guest_memfd,
// protected guests, and faults taken for an L2 guest. Same closed set as DecisionSteps.cs (one sealed record each).

/// <summary>Why the fault path topped its stage-2 memcache up.</summary>
public enum MemcacheTopupReason : byte
{
    /// <summary>Not a permission fault: a new leaf may need table pages.</summary>
    NotPermissionFault,
    /// <summary>6.x: a write permission fault with dirty logging may split a block into a table.</summary>
    LoggingWrite,
    /// <summary>7.x: a permission fault on a logging slot.</summary>
    Logging,
    /// <summary>7.x under pKVM: every fault, since EL2 wants the min-pages memcache even when nothing is allocated.</summary>
    ProtectedKvm,
    /// <summary>gmem_abort (6.18) tops up on every fault.</summary>
    Always,
}

/// <summary>
/// topup_mmu_memcache / prepare_mmu_memcache: the vCPU's memcache is topped up to kvm_mmu_cache_min_pages
/// (<paramref name="HypMemcache"/>: the pKVM hyp memcache, topup_hyp_memcache).
/// </summary>
public sealed record MemcacheTopupStep(string Function, MemcacheTopupReason Reason, long MinPages, bool HypMemcache) : DecisionStep(Function);

/// <summary>Why kvm_s2_resolve_vma_size capped max_map_size at PAGE_SIZE (7.x's replacement for force_pte).</summary>
public enum MaxMapSizeReason : byte
{
    /// <summary>memslot_is_logging: every written page must be tracked.</summary>
    DirtyLogging,
    /// <summary>Neither PUD nor PMD blocks fit the slot here.</summary>
    NoBlockFitsSlot,
    /// <summary>A CONT_PTE hugetlb page is mapped with pages.</summary>
    ContPteHugetlb,
}

/// <summary>kvm_s2_resolve_vma_size: max_map_size = PAGE_SIZE (no block, and no THP upgrade later).</summary>
public sealed record MaxMapSizeStep(MaxMapSizeReason Reason, ulong MaxMapSizeBytes, ulong FromSizeBytes) : DecisionStep(KernelFunctions.KvmS2ResolveVmaSize)
{
    public override bool LimitsSize(ulong maxBlockBytes) => MaxMapSizeBytes < maxBlockBytes;
}

/// <summary>
/// kvm_s2_resolve_vma_size for a shadow stage 2: max_map_size = min(max_map_size, PUD_SIZE, kvm_s2_trans_size),
/// rounded down to PMD_SIZE or PAGE_SIZE when it falls between two host sizes; the mapping is at most that.
/// </summary>
public sealed record NestedClampStep(ulong TransSizeBytes, ulong FromMaxMapSizeBytes, ulong MaxMapSizeBytes, ulong FromSizeBytes, ulong SizeBytes)
    : DecisionStep(KernelFunctions.KvmS2ResolveVmaSize)
{
    public override bool LimitsSize(ulong maxBlockBytes) => MaxMapSizeBytes < maxBlockBytes;
}

/// <summary>get_canonical_gfn: for a nested fault the pfn is looked up at the L1 IPA, aligned down to the mapping size.</summary>
public sealed record CanonicalGfnStep(ulong L1Ipa, ulong SizeBytes, ulong CanonicalIpa) : DecisionStep(KernelFunctions.GetCanonicalGfn);

/// <summary>kvm_walk_nested_s2: the L1 hypervisor's stage-2 leaf for an L2 IPA (none: the fault is L1's).</summary>
public sealed record NestedWalkStep(ulong L2Ipa, bool Found, ulong L1Ipa, ulong SizeBytes, Prot Perms) : DecisionStep(KernelFunctions.KvmWalkNestedS2)
{
    public override bool? Passed => Found ? null : false;
}

/// <summary>kvm_s2_handle_perm_fault: the L1 hypervisor's leaf does not allow the access.</summary>
public sealed record NestedPermissionStep(AccessKind Access, Prot Perms) : DecisionStep(KernelFunctions.KvmS2HandlePermFault)
{
    public override bool? Passed => false;
}

/// <summary>kvm_inject_s2_fault: the abort is forwarded to the L1 hypervisor, which owns this translation.</summary>
public sealed record L1FaultInjectedStep(ulong L2Ipa, FaultStatus Status) : DecisionStep(KernelFunctions.KvmInjectS2Fault);

/// <summary>adjust_nested_fault_perms / adjust_nested_exec_perms: the shadow leaf gets no right the L1 leaf lacks.</summary>
public sealed record NestedPermsAdjustStep(string Function, Prot Before, Prot After, Prot L1Perms) : DecisionStep(Function);

/// <summary>kvm_gmem_get_pfn: the guest_memfd page backing the gfn (none: a KVM_EXIT_MEMORY_FAULT, -EFAULT).</summary>
public sealed record GmemPfnStep(ulong Gfn, ulong Pa, bool Found) : DecisionStep(KernelFunctions.KvmGmemGetPfn)
{
    public override bool? Passed => Found ? null : false;
}

/// <summary>gmem_abort: guest_memfd has no huge pages yet, so the mapping is PAGE_SIZE.</summary>
public sealed record GmemPageSizeStep(ulong PageSizeBytes) : DecisionStep(KernelFunctions.GmemAbort)
{
    public override bool LimitsSize(ulong maxBlockBytes) => PageSizeBytes < maxBlockBytes;
}

/// <summary>How pin_user_pages(FOLL_LONGTERM | FOLL_WRITE) answered for a protected guest's page.</summary>
public enum PinResult : byte
{
    Pinned,
    /// <summary>No page could be pinned (no VMA, VM_PFNMAP/VM_IO, not writable): -EFAULT.</summary>
    NoPage,
    /// <summary>A page that is not swap-backed (page cache, hugetlbfs): -EIO.</summary>
    NotSwapBacked,
}

/// <summary>protected_pkvm_mem_abort: the page at the faulting HVA is pinned (long-term) for donation to the guest.</summary>
public sealed record ProtectedPinStep(ulong Hva, ulong Pa, PinResult Result) : DecisionStep(KernelFunctions.PinUserPages)
{
    public override bool? Passed => Result == PinResult.Pinned ? null : false;
}

/// <summary>protected_pkvm_mem_abort: a protected guest's memory is donated a page at a time, RWX.</summary>
public sealed record ProtectedPageStep(ulong PageSizeBytes) : DecisionStep(KernelFunctions.ProtectedPkvmMemAbort)
{
    public override bool LimitsSize(ulong maxBlockBytes) => PageSizeBytes < maxBlockBytes;
}
