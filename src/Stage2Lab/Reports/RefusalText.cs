using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Playback;
using Stage2Lab.Simulation.Runs;

namespace Stage2Lab.Reports;

/// <summary>Why KVM refused an ioctl, in words.</summary>
public static class RefusalText
{
    public static string Describe(KvmRefusal refusal) => refusal switch
    {
        SlotIdOutOfRange r => $"slot id {r.SlotId} is out of range 0..{r.MaxSlots - 1}",
        SlotNotAligned r => r.Field switch
        {
            SlotField.Size => $"slot {r.SlotId}: size {H(r.Value)} is not a multiple of the {SizeText.Format(r.PageSizeBytes)} page size",
            SlotField.Ipa => $"slot {r.SlotId}: IPA {H(r.Value)} is not {SizeText.Format(r.PageSizeBytes)}-aligned",
            _ => $"slot {r.SlotId}: HVA {H(r.Value)} is not {SizeText.Format(r.PageSizeBytes)}-aligned",
        },
        SlotHvaRangeInvalid r => $"slot {r.SlotId}: HVA range [{H(r.Hva)}, +{H(r.SizeBytes)}) is not a valid user range (access_ok)",
        SlotIpaWraps r => $"slot {r.SlotId}: IPA {H(r.Ipa)} + size {H(r.SizeBytes)} wraps",
        SlotImmutableChange r => $"slot {r.SlotId} exists ({DecisionText.Slot(r.Existing)}): only its IPA or dirty-logging flag may change, not its HVA, size or READONLY flag",
        SlotOverlap r => $"slot {r.SlotId}: IPA range [{H(r.Ipa)}, {H(r.End)}) overlaps {DecisionText.Slot(r.Other)}",
        SlotBeyondIpaSpace r => $"slot {r.SlotId} ends at IPA {H(r.IpaEnd)}, {(r.LimitInclusive ? "at or " : "")}above the {r.IpaBits}-bit IPA space",
        LoggingOnPfnMap r => $"slot {r.SlotId}: dirty logging is not allowed on a VM_PFNMAP region ({DecisionText.Vma(r.Vma)})",
        CacheablePfnMapUnsupported r => $"slot {r.SlotId}: cacheable PFNMAP {DecisionText.Vma(r.Vma)} needs FWB and DIC",
        IoremapFailed r => $"slot {r.SlotId}: kvm_phys_addr_ioremap failed with {Errno.Name(r.Errno)}",
        NoSuchSlot r => $"slot {r.SlotId} does not exist",
        NoDirtyBitmap r => $"slot {r.SlotId} has no dirty bitmap (logging is off)",
        ManualProtectNotEnabled => "KVM_CLEAR_DIRTY_LOG needs KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE",
        GuestMemfdUnsupported r => $"slot {r.SlotId}: KVM_MEM_GUEST_MEMFD is not a memslot flag this kernel knows (arm64 guest_memfd: 6.18+)",
        GuestMemfdFlagsInvalid r => $"slot {r.SlotId}: a guest_memfd slot can be neither READONLY nor dirty-logged",
        GuestMemfdImmutable r => $"slot {r.SlotId}: a guest_memfd slot is immutable; it can only be deleted",
        ProtectedVmSlotFlags r => $"slot {r.SlotId}: a protected VM's slots can be neither dirty-logged nor READONLY",
        ProtectedVmSlotsLocked r => $"slot {r.SlotId}: a protected VM that has run cannot {(r.Change == MemslotChange.Move ? "move" : "delete")} its slots",
        ClearRangeInvalid r => $"slot {r.SlotId}: clear range [{r.FirstPage}, +{r.NumPages}) must start on a multiple of 64 pages and lie in the slot's {r.SlotPages} pages",
        _ => refusal.ToString(),
    };

    /// <summary>"EINVAL: slot 3 ...": a refused timeline event.</summary>
    public static string Describe(EventRefusal refusal) =>
        $"{Errno.Name(refusal.Errno)}: {(refusal.Kvm is { } kvm ? Describe(kvm) : refusal.HostReason)}";

    private static string H(ulong value) => Format.Hex(value);
}
