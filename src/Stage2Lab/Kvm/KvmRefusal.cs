namespace Stage2Lab.Kvm;

/// <summary>Why KVM refused an ioctl, as data (Reports says it in words). Each names the kernel check it mirrors.</summary>
public abstract record KvmRefusal(int SlotId);

/// <summary>__kvm_set_memory_region: id ≥ KVM_USER_MEM_SLOTS.</summary>
public sealed record SlotIdOutOfRange(int SlotId, int MaxSlots) : KvmRefusal(SlotId);

/// <summary>Which field of a memslot request is not page-aligned.</summary>
public enum SlotField : byte
{
    Size,
    Ipa,
    Hva,
}

/// <summary>__kvm_set_memory_region: size, guest_phys_addr or userspace_addr not PAGE_SIZE-aligned.</summary>
public sealed record SlotNotAligned(int SlotId, SlotField Field, ulong Value, ulong PageSizeBytes) : KvmRefusal(SlotId);

/// <summary>__kvm_set_memory_region: the HVA range fails access_ok (wraps or leaves the user VA space).</summary>
public sealed record SlotHvaRangeInvalid(int SlotId, ulong Hva, ulong SizeBytes) : KvmRefusal(SlotId);

/// <summary>__kvm_set_memory_region: guest_phys_addr + size wraps.</summary>
public sealed record SlotIpaWraps(int SlotId, ulong Ipa, ulong SizeBytes) : KvmRefusal(SlotId);

/// <summary>__kvm_set_memory_region: an existing slot may change only its IPA (move) or its dirty-logging flag.</summary>
public sealed record SlotImmutableChange(int SlotId, MemslotInfo Existing) : KvmRefusal(SlotId);

/// <summary>kvm_check_memslot_overlap: -EEXIST.</summary>
public sealed record SlotOverlap(int SlotId, ulong Ipa, ulong End, MemslotInfo Other) : KvmRefusal(SlotId);

/// <summary>kvm_arch_prepare_memory_region: the slot ends above the IPA space (5.10-rc1: at or above).</summary>
public sealed record SlotBeyondIpaSpace(int SlotId, ulong IpaEnd, int IpaBits, bool LimitInclusive) : KvmRefusal(SlotId);

/// <summary>kvm_arch_prepare_memory_region: "IO region dirty page logging not allowed".</summary>
public sealed record LoggingOnPfnMap(int SlotId, VmaInfo Vma) : KvmRefusal(SlotId);

/// <summary>kvm_arch_prepare_memory_region (6.x): a cacheable VM_PFNMAP needs FWB and DIC.</summary>
public sealed record CacheablePfnMapUnsupported(int SlotId, VmaInfo Vma) : KvmRefusal(SlotId);

/// <summary>kvm_arch_prepare_memory_region (≤ 5.13): kvm_phys_addr_ioremap failed.</summary>
public sealed record IoremapFailed(int SlotId, int Errno) : KvmRefusal(SlotId);

/// <summary>The slot id names no slot.</summary>
public sealed record NoSuchSlot(int SlotId) : KvmRefusal(SlotId);

/// <summary>KVM_GET/CLEAR_DIRTY_LOG on a slot without a dirty bitmap.</summary>
public sealed record NoDirtyBitmap(int SlotId) : KvmRefusal(SlotId);

/// <summary>KVM_CLEAR_DIRTY_LOG without KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE.</summary>
public sealed record ManualProtectNotEnabled(int SlotId) : KvmRefusal(SlotId);

/// <summary>kvm_clear_dirty_log_protect: first_page not a multiple of 64, or the range leaves the slot.</summary>
public sealed record ClearRangeInvalid(int SlotId, ulong FirstPage, ulong NumPages, ulong SlotPages) : KvmRefusal(SlotId);

/// <summary>check_memory_region_flags: KVM_MEM_GUEST_MEMFD is not a flag this kernel knows (arm64 guest_memfd: 6.18+).</summary>
public sealed record GuestMemfdUnsupported(int SlotId) : KvmRefusal(SlotId);

/// <summary>check_memory_region_flags: a guest_memfd slot can be neither READONLY nor dirty-logged.</summary>
public sealed record GuestMemfdFlagsInvalid(int SlotId, MemslotFlags Flags) : KvmRefusal(SlotId);

/// <summary>kvm_set_memory_region: "private memslots are immutable, they can only be deleted".</summary>
public sealed record GuestMemfdImmutable(int SlotId) : KvmRefusal(SlotId);

/// <summary>kvm_arch_prepare_memory_region (7.x): a protected VM's slots can be neither dirty-logged nor READONLY.</summary>
public sealed record ProtectedVmSlotFlags(int SlotId, MemslotFlags Flags) : KvmRefusal(SlotId);

/// <summary>kvm_arch_prepare_memory_region (7.x): once a protected VM has run, its slots cannot be deleted or moved.</summary>
public sealed record ProtectedVmSlotsLocked(int SlotId, MemslotChange Change) : KvmRefusal(SlotId);
