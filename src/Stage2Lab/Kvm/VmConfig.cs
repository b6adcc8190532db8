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
