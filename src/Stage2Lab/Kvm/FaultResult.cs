using Stage2Lab.Arch;

namespace Stage2Lab.Kvm;

/// <summary>What one guest access came to.</summary>
public enum FaultOutcome : byte
{
    /// <summary>The stage-2 walk found a valid leaf allowing the access: no fault.</summary>
    Hit,
    /// <summary>user_mem_abort called kvm_pgtable_stage2_map.</summary>
    Mapped,
    /// <summary>user_mem_abort called kvm_pgtable_stage2_relax_perms.</summary>
    Relaxed,
    /// <summary>No memslot, or a write to a READONLY slot: KVM_EXIT_MMIO to the VMM.</summary>
    Mmio,
    /// <summary>The handler returned to the guest without a stage-2 call, exit or injection.</summary>
    Retry,
    /// <summary>The fault failed: -EFAULT to the VMM, or -ENOEXEC turned into an abort injected into the guest.</summary>
    Error,
    /// <summary>The IPA is beyond the VM's IPA size: an external abort is injected.</summary>
    Injected,
    /// <summary>An L2 guest's fault the L1 hypervisor's own stage 2 does not map or allow: forwarded to L1 (kvm_inject_s2_fault).</summary>
    ForwardedToL1,
}

/// <summary>The kind of stage-2 abort the hardware raised (ESR_EL2.DFSC/IFSC).</summary>
public enum FaultStatus : byte
{
    None,
    Translation,
    Permission,
}

/// <summary>The result of one guest access, as the fault-script output reports it.</summary>
public readonly record struct FaultResult
{
    public FaultOutcome Outcome { get; init; }

    public FaultStatus Status { get; init; }

    /// <summary>The level the hardware walk reported with the fault.</summary>
    public int FaultLevel { get; init; }

    /// <summary>The IPA passed to map/relax (block-aligned for blocks, 4K-aligned otherwise up to v6.18).</summary>
    public ulong Ipa { get; init; }

    public ulong SizeBytes { get; init; }

    public ulong Pa { get; init; }

    public Prot Prot { get; init; }

    /// <summary>For <see cref="FaultOutcome.Error"/>: EFAULT or ENOEXEC (positive errno).</summary>
    public int Errno { get; init; }

    /// <summary>A map or relax call that itself failed: its errno (positive), else 0.</summary>
    public int PgtableErrno { get; init; }

    /// <summary>v5.9/v5.13: kvm_is_transparent_hugepage() was called on a pfn without a struct page.</summary>
    public bool TouchedNonRamPage { get; init; }

    /// <summary>mark_page_dirty_in_slot set the faulting page's bit in the slot's dirty bitmap.</summary>
    public bool MarkedDirty { get; init; }

    public bool IsFault => Outcome != FaultOutcome.Hit;

    public static FaultResult Hit() => new() { Outcome = FaultOutcome.Hit };

    public static FaultResult Fail(int errno) => new() { Outcome = FaultOutcome.Error, Errno = errno };
}
