namespace Stage2Lab.Simulation.Invariants;

/// <summary>
/// The invariants a correct stage-2 keeps after every event (shared/spec/stage2-model.md §6), one member each.
/// Each names the kernel rule it comes from.
/// </summary>
public enum InvariantKind : byte
{
    /// <summary>Every valid leaf lies inside one memslot.</summary>
    // fault_supports_stage2_huge_mapping (mmu.c, v5.14+) and kvm_arch_flush_shadow_memslot (unmap on delete/move).
    LeafInOneMemslot,

    /// <summary>Every valid leaf lies inside one VMA.</summary>
    // get_vma_page_shift (mmu.c, v5.14+): ALIGN_DOWN(hva, size) >= vm_start && ALIGN(hva, size) <= vm_end.
    LeafInOneVma,

    /// <summary>The leaf's IPA, HVA and PA are congruent modulo its size.</summary>
    // kvm_block_mapping_supported (hyp/pgtable.c) for IPA/PA, fault_supports_stage2_huge_mapping (mmu.c) for IPA/HVA.
    AddressesCongruent,

    /// <summary>Every page of a leaf maps the PA the host maps at that page's HVA.</summary>
    // __kvm_faultin_pfn / gfn_to_pfn_prot (v5.14+): stage 2 must only mirror the host's own mapping of the HVA.
    PaMatchesHost,

    /// <summary>Device memory is never executable, never Normal-cacheable unless FWB and the VMA allow it,
    /// and Normal-NC only where the VMA has VM_ALLOW_ANY_UNCACHED.</summary>
    // user_mem_abort (v6.18 mmu.c): -ENOEXEC for exec on device, kvm_supports_cacheable_pfnmap, VM_ALLOW_ANY_UNCACHED.
    DeviceMemoryAttributes,

    /// <summary>A leaf of a KVM_MEM_READONLY slot is never writable.</summary>
    // __gfn_to_pfn_memslot (virt/kvm/kvm_main.c): writable = false for a READONLY slot.
    ReadOnlySlotNotWritable,

    /// <summary>In a logging slot (not PFNMAP): faults map pages only, blocks are never writable, and a
    /// writable page is marked dirty.</summary>
    // user_mem_abort logging_active → force_pte (v5.14+ mmu.c), kvm_mmu_wp_memory_region, mark_page_dirty_in_slot.
    LoggingSlotLeaves,

    /// <summary>The dirty bitmap holds every page the guest wrote since the last harvest.</summary>
    // mark_page_dirty_in_slot / kvm_get_dirty_log_protect (virt/kvm/kvm_main.c).
    DirtyBitmapHoldsWrites,

    /// <summary>A table page's refcount equals its non-zero entries.</summary>
    // stage2_pte_is_counted with mm_ops->get_page/put_page (hyp/pgtable.c, v6.19).
    TableRefcounts,

    /// <summary>Every live table page is reachable from the roots, and every reachable table page is live.</summary>
    // stage2_unmap_put_pte / stage2_free_unlinked_table (hyp/pgtable.c): a table is freed when unlinked.
    TablesReachable,

    /// <summary>transparent_hugepage_adjust is never consulted for a device pfn.</summary>
    // 91a2c34b7d6f "KVM: arm64: Force PTE mapping on fault resulting in a device mapping" (v5.10).
    NoThpOnDevicePfn,

    /// <summary>Under protected KVM a block leaf is PMD_SIZE; a protected guest has pages only.</summary>
    // fault_supports_stage2_huge_mapping (mmu.c, 6.15+ pKVM huge mappings; 7.x vcpu_is_protected).
    ProtectedKvmBlockSize,
}
