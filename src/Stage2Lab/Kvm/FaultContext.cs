using Stage2Lab.Arch;

namespace Stage2Lab.Kvm;

/// <summary>What kvm_handle_guest_abort hands to user_mem_abort.</summary>
public readonly struct FaultContext
{
    public FaultContext(KvmVm vm, Memslot slot, ulong faultIpa, ulong hva, AccessKind access, FaultStatus status, int faultLevel, DecisionRecord? explain)
    {
        Vm = vm;
        Slot = slot;
        FaultIpa = faultIpa;
        Hva = hva;
        Access = access;
        Status = status;
        FaultLevel = faultLevel;
        Explain = explain;
    }

    public KvmVm Vm { get; }

    public Memslot Slot { get; }

    /// <summary>kvm_vcpu_get_fault_ipa: HPFAR_EL2, IPA[47:12], so 4K-aligned whatever the granule.</summary>
    public ulong FaultIpa { get; }

    /// <summary>gfn_to_hva_memslot_prot of the faulting page.</summary>
    public ulong Hva { get; }

    public AccessKind Access { get; }

    public FaultStatus Status { get; }

    public int FaultLevel { get; }

    public DecisionRecord? Explain { get; }

    public bool WriteFault => Access == AccessKind.Write;

    public bool ExecFault => Access == AccessKind.Exec;

    public bool IsPermissionFault => Status == FaultStatus.Permission;
}
