namespace Stage2Lab.Kvm;

/// <summary>KVM_MEM_* flags of a memslot.</summary>
[Flags]
public enum MemslotFlags : byte
{
    None = 0,
    /// <summary>KVM_MEM_LOG_DIRTY_PAGES.</summary>
    LogDirtyPages = 1 << 0,
    /// <summary>KVM_MEM_READONLY: guest writes exit to the VMM as MMIO.</summary>
    ReadOnly = 1 << 1,
    /// <summary>KVM_MEM_GUEST_MEMFD (KVM_SET_USER_MEMORY_REGION2): the slot's memory comes from a guest_memfd.</summary>
    GuestMemfd = 1 << 2,
}

/// <summary>
/// struct kvm_memory_slot: a guest physical range [Ipa, Ipa+Size) backed by the VMM's
/// [UserspaceAddr, UserspaceAddr+Size), with its flags and dirty bitmap.
/// </summary>
public sealed class Memslot
{
    public Memslot(int id, ulong ipa, ulong sizeBytes, ulong userspaceAddr, MemslotFlags flags, int pageShift)
    {
        Id = id;
        Ipa = ipa;
        SizeBytes = sizeBytes;
        UserspaceAddr = userspaceAddr;
        Flags = flags;
        PageShift = pageShift;
    }

    public int Id { get; }

    /// <summary>base_gfn &lt;&lt; PAGE_SHIFT.</summary>
    public ulong Ipa { get; internal set; }

    /// <summary>npages &lt;&lt; PAGE_SHIFT.</summary>
    public ulong SizeBytes { get; }

    public ulong UserspaceAddr { get; }

    public MemslotFlags Flags { get; internal set; }

    public int PageShift { get; }

    public DirtyBitmap? DirtyBitmap { get; internal set; }

    public ulong BaseGfn => Ipa >> PageShift;

    public ulong NPages => SizeBytes >> PageShift;

    public ulong IpaEnd => Ipa + SizeBytes;

    public ulong HvaEnd => UserspaceAddr + SizeBytes;

    public bool IsReadOnly => (Flags & MemslotFlags.ReadOnly) != 0;

    /// <summary>kvm_slot_has_gmem: faults on the slot go to gmem_abort.</summary>
    public bool IsGuestMemfd => (Flags & MemslotFlags.GuestMemfd) != 0;

    /// <summary>memslot_is_logging: a dirty bitmap on a writable slot.</summary>
    public bool IsLogging => DirtyBitmap is not null && !IsReadOnly;

    public bool ContainsIpa(ulong ipa) => ipa >= Ipa && ipa - Ipa < SizeBytes;

    /// <summary>__gfn_to_hva_memslot.</summary>
    public ulong HvaOf(ulong ipa) => UserspaceAddr + (ipa - Ipa);

    /// <summary>hva_to_gfn_memslot, as an IPA.</summary>
    public ulong IpaOf(ulong hva) => Ipa + (hva - UserspaceAddr);

    public override string ToString() =>
        $"slot {Id} IPA [0x{Ipa:x}, 0x{IpaEnd:x}) HVA [0x{UserspaceAddr:x}, 0x{HvaEnd:x}){(IsReadOnly ? " ro" : "")}{((Flags & MemslotFlags.LogDirtyPages) != 0 ? " log" : "")}{(IsGuestMemfd ? " guest-memfd" : "")}";
}
