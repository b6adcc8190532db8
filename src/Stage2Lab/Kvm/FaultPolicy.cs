using Stage2Lab.PageTables;

namespace Stage2Lab.Kvm;

/// <summary>
/// One kernel version's fault path and memslot hooks: user_mem_abort and kvm_arch_prepare/commit_memory_region
/// as that version wrote them. A policy sees only what the kernel function it mirrors sees: the fault through
/// <see cref="FaultContext"/>, a memslot change through <see cref="MemslotContext"/>. The versions themselves
/// live in Kvm.Policies, one unit each; what they share lives in KernelRules, as the kernel shares it.
/// </summary>
public abstract class FaultPolicy
{
    /// <summary>The name users select it by (v5.9, v5.13, seed-v3, v5.14, v6.18, host-pte, ...).</summary>
    public abstract string Name { get; }

    /// <summary>The page-table API semantics the version's fault path was written against.</summary>
    public abstract Stage2ApiRevision PageTableApi { get; }

    /// <summary>kvm_flush_remote_tlbs_memslot flushes a range (6.6+) rather than the whole VMID.</summary>
    public virtual bool RangeFlushOfMemslots => false;

    /// <summary>
    /// kvm_handle_guest_abort injects an abort for a translation fault at or beyond the VM's IPA size (the
    /// out-of-IPA-range check added in 2022, after 5.15). Older kernels treat it as any other IPA outside every
    /// memslot: MMIO for a data abort, -ENOEXEC for an instruction abort.
    /// </summary>
    public virtual bool InjectsAbortBeyondIpaSize => false;

    /// <summary>
    /// Whether this version has a fault path for VMs of <paramref name="flavor"/>: pKVM's non-protected guests
    /// (6.15+), protected guests (7.x). A VM of another flavor cannot be built with this policy.
    /// </summary>
    public virtual bool Supports(VmFlavor flavor) => flavor == VmFlavor.Kvm;

    /// <summary>Whether faults taken for an L2 guest (a shadow stage 2, kvm_s2_trans) are modelled for this version.</summary>
    public virtual bool SupportsNested => false;

    /// <summary>Whether KVM_MEM_GUEST_MEMFD is a valid memslot flag (else the ioctl fails with -EINVAL).</summary>
    public virtual bool SupportsGuestMemfd => false;

    /// <summary>Whether memslot TLB flushes are range flushes for a VM of <paramref name="flavor"/>.</summary>
    public virtual bool RangeFlushFor(VmFlavor flavor) => RangeFlushOfMemslots;

    /// <summary>user_mem_abort: decide and install the stage-2 mapping for one fault.</summary>
    public abstract FaultResult UserMemAbort(in FaultContext ctx);

    /// <summary>kvm_arch_prepare_memory_region.</summary>
    public abstract KvmResult PrepareMemoryRegion(in MemslotContext ctx, Memslot? old, Memslot slot, MemslotChange change);

    /// <summary>kvm_arch_commit_memory_region.</summary>
    public abstract void CommitMemoryRegion(in MemslotContext ctx, Memslot? old, Memslot? slot, MemslotChange change);

    /// <summary>
    /// kvm_arch_flush_shadow_memslot: a deleted or moved slot's IPA range is unmapped, and (7.x,
    /// kvm_nested_unmap_cipa_range) whatever a shadow stage 2 mapped from it.
    /// </summary>
    public virtual void FlushShadowMemslot(in MemslotContext ctx, Memslot slot) => ctx.Mmu.UnmapGfnRange(slot.Ipa, slot.SizeBytes);

    public override string ToString() => Name;
}
