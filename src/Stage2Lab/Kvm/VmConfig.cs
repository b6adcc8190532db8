using Stage2Lab.Arch;

namespace Stage2Lab.Kvm;

/// <summary>The VM-wide settings the model needs.</summary>
public sealed record VmConfig
{
    public Granule Granule { get; init; } = Granule.Size4K;

    /// <summary>The VM's IPA size (KVM_VM_TYPE_ARM_IPA_SIZE).</summary>
    public int IpaBits { get; init; } = 40;

    public CpuFeatures Features { get; init; } = CpuFeatures.Default;

    /// <summary>KVM_USER_MEM_SLOTS: 512 before 5.17; 32764 since.</summary>
    public int MaxSlots { get; init; } = 32764;

    /// <summary>KVM_CAP_ARM_EAGER_SPLIT_CHUNK_SIZE (6.5+): 0 disables eager splitting.</summary>
    public ulong EagerSplitChunkBytes { get; init; }

    /// <summary>KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET.</summary>
    public bool ManualDirtyLogProtect { get; init; }

    /// <summary>kvm->arch.vm_flavor: an ordinary VM, or (kvm-arm.mode=protected) a non-protected or protected pKVM guest.</summary>
    public VmFlavor Flavor { get; init; }

    /// <summary>
    /// For a VM that runs an L2 guest (nested virtualization): the L1 hypervisor's own stage 2 for it. Null: no L2
    /// guest. Faults the L2 guest takes map through a shadow stage 2 (KvmVm.AccessNested).
    /// </summary>
    public GuestStage2? NestedStage2 { get; init; }

    /// <summary>is_protected_kvm_enabled(): the host booted with kvm-arm.mode=protected.</summary>
    public bool ProtectedKvmEnabled => Flavor != VmFlavor.Kvm;
}

/// <summary>
/// enum kvm_vm_flavor (7.x, arch/arm64/kvm/mmu.c arm64_vm_s2_ops): which set of stage-2 operations the VM uses.
/// </summary>
public enum VmFlavor : byte
{
    /// <summary>VM_VHE / VM_NVHE: KVM owns the stage 2 (kvm_default_vm_s2_ops).</summary>
    Kvm,
    /// <summary>VM_PKVM: a non-protected guest under protected KVM; EL2 applies the stage 2 (pkvm_vm_s2_ops).</summary>
    Pkvm,
    /// <summary>VM_PROTECTED_PKVM: a protected guest; its memory is donated page by page (protected_pkvm_vm_s2_ops).</summary>
    ProtectedPkvm,
}

/// <summary>The outcome of a KVM ioctl: 0, or the kernel's errno and why, as data.</summary>
public readonly record struct KvmResult(int Errno, KvmRefusal? Refusal)
{
    public static KvmResult Ok => default;

    public bool Succeeded => Errno == 0;

    public static KvmResult Fail(int errno, KvmRefusal refusal) => new(errno, refusal);
}

/// <summary>enum kvm_mr_change.</summary>
public enum MemslotChange : byte
{
    Create,
    Delete,
    Move,
    FlagsOnly,
}
