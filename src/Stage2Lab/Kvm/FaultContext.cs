using Stage2Lab.Arch;
using Stage2Lab.Host;

namespace Stage2Lab.Kvm;

/// <summary>
/// What kvm_handle_guest_abort hands to user_mem_abort, and all a fault path may touch: the stage-2 MMU, the
/// VMM's address space (VMAs, host page table, physical memory), the memslot with its dirty log, and the fault.
/// 7.x names the same bundle struct kvm_s2_fault_desc (vcpu, fault_ipa, nested, memslot, hva, esr, mmu).
/// </summary>
public readonly struct FaultContext
{
    public FaultContext(Stage2Mmu mmu, HostAddressSpace host, VmConfig config, Memslot slot, ulong faultIpa, ulong hva,
        AccessKind access, FaultStatus status, int faultLevel, DecisionRecord? explain, NestedTranslation? nested = null)
    {
        Nested = nested;
        Mmu = mmu;
        Host = host;
        Config = config;
        Slot = slot;
        FaultIpa = faultIpa;
        Hva = hva;
        Access = access;
        Status = status;
        FaultLevel = faultLevel;
        Explain = explain;
    }

    /// <summary>vcpu->arch.hw_mmu: the VM's canonical stage 2, or (a fault taken for an L2 guest) a shadow one.</summary>
    public Stage2Mmu Mmu { get; }

    /// <summary>
    /// kvm_s2_fault_desc.nested: for a fault taken while an L2 guest ran, what the L1 hypervisor's stage 2 maps the
    /// L2 IPA to. The slot and HVA are then those of the L1 IPA (kvm_s2_trans_output); <see cref="FaultIpa"/> stays
    /// the L2 IPA.
    /// </summary>
    public NestedTranslation? Nested { get; }

    public HostAddressSpace Host { get; }

    public VmConfig Config { get; }

    public Memslot Slot { get; }

    /// <summary>kvm_vcpu_get_fault_ipa: HPFAR_EL2, IPA[47:12], so 4K-aligned whatever the granule (an L2 IPA for a nested fault).</summary>
    public ulong FaultIpa { get; }

    /// <summary>gfn_to_hva_memslot_prot of the faulting page.</summary>
    public ulong Hva { get; }

    public AccessKind Access { get; }

    public FaultStatus Status { get; }

    public int FaultLevel { get; }

    public DecisionRecord? Explain { get; }

    public HostPageTableConfig HostConfig => Host.Config;

    public Granule Granule => Config.Granule;

    public CpuFeatures Features => Config.Features;

    public ulong PageSize => Config.Granule.PageSize;

    public bool WriteFault => Access == AccessKind.Write;

    public bool ExecFault => Access == AccessKind.Exec;

    public bool IsPermissionFault => Status == FaultStatus.Permission;

    /// <summary>kvm_vcpu_trap_get_perm_fault_granule: the size of the leaf a permission fault was reported at.</summary>
    public ulong PermissionFaultGranule => IsPermissionFault ? Granule.LevelSize(FaultLevel) : 0;

    /// <summary>kvm_is_device_pfn / !pfn_is_map_memory: the PA is not RAM.</summary>
    public bool IsDevicePa(ulong pa) => !Host.Memory.IsRam(pa);

    /// <summary>mark_page_dirty_in_slot: only a slot with a dirty bitmap tracks pages. True when a bit was set.</summary>
    public bool MarkPageDirty(ulong ipa)
    {
        if (Slot.DirtyBitmap is not { } bitmap || !Slot.ContainsIpa(ipa))
            return false;
        bitmap.Set((ipa - Slot.Ipa) >> Granule.PageShift);
        return true;
    }
}
