using Stage2Lab.Arch;

namespace Stage2Lab.Kvm;

/// <summary>KVM_SET_USER_MEMORY_REGION: the generic checks of __kvm_set_memory_region, then the
/// architecture's prepare/commit hooks, which belong to the policy (kernel version).</summary>
public sealed partial class KvmVm
{
    /// <summary>
    /// Creates, moves, re-flags or (with size 0) deletes a memslot, with the errors of
    /// __kvm_set_memory_region (virt/kvm/kvm_main.c): -EINVAL for an id out of range, an unaligned size, IPA
    /// or HVA, an IPA range that wraps, a change of HVA, size or READONLY of an existing slot; -EEXIST when
    /// the IPA range overlaps another slot; then whatever kvm_arch_prepare_memory_region refuses. With
    /// <paramref name="explain"/>, what the architecture's hook mapped (before 5.14) is recorded as steps.
    /// </summary>
    public KvmResult SetUserMemoryRegion(int id, ulong ipa, ulong sizeBytes, ulong hva, MemslotFlags flags, DecisionRecord? explain = null)
    {
        if (id < 0 || id >= Memslots.MaxSlots)
            return KvmResult.Fail(Errno.EINVAL, new SlotIdOutOfRange(id, Memslots.MaxSlots));
        ulong page = PageSize;
        if ((sizeBytes & (page - 1)) != 0)
            return KvmResult.Fail(Errno.EINVAL, new SlotNotAligned(id, SlotField.Size, sizeBytes, page));
        if ((ipa & (page - 1)) != 0)
            return KvmResult.Fail(Errno.EINVAL, new SlotNotAligned(id, SlotField.Ipa, ipa, page));
        if ((hva & (page - 1)) != 0)
            return KvmResult.Fail(Errno.EINVAL, new SlotNotAligned(id, SlotField.Hva, hva, page));
        if (hva + sizeBytes < hva || hva + sizeBytes > 1UL << Host.Config.VaBits)
            return KvmResult.Fail(Errno.EINVAL, new SlotHvaRangeInvalid(id, hva, sizeBytes));
        if (ipa + sizeBytes < ipa)
            return KvmResult.Fail(Errno.EINVAL, new SlotIpaWraps(id, ipa, sizeBytes));
        // check_memory_region_flags (kvm_main.c): guest_memfd is a flag only newer kernels know, and such a slot can
        // be neither dirty-logged nor READONLY. (Checked before the alignment checks in the kernel; every refusal
        // is -EINVAL either way.)
        if ((flags & MemslotFlags.GuestMemfd) != 0)
        {
            if (!Policy.SupportsGuestMemfd)
                return KvmResult.Fail(Errno.EINVAL, new GuestMemfdUnsupported(id));
            if ((flags & (MemslotFlags.LogDirtyPages | MemslotFlags.ReadOnly)) != 0)
                return KvmResult.Fail(Errno.EINVAL, new GuestMemfdFlagsInvalid(id, flags));
        }

        Memslot? old = Memslots.ById(id);
        if (sizeBytes == 0)
            return DeleteSlot(id);

        MemslotChange change;
        if (old is null)
        {
            change = MemslotChange.Create;
        }
        else
        {
            // kvm_set_memory_region: "Private memslots are immutable, they can only be deleted."
            if ((flags & MemslotFlags.GuestMemfd) != 0)
                return KvmResult.Fail(Errno.EINVAL, new GuestMemfdImmutable(id));
            if (hva != old.UserspaceAddr || sizeBytes != old.SizeBytes || ((flags ^ old.Flags) & MemslotFlags.ReadOnly) != 0)
                return KvmResult.Fail(Errno.EINVAL, new SlotImmutableChange(id, MemslotInfo.Of(old)));
            if (ipa != old.Ipa)
                change = MemslotChange.Move;
            else if (flags != old.Flags)
                change = MemslotChange.FlagsOnly;
            else
                return KvmResult.Ok;
        }

        if (change is MemslotChange.Create or MemslotChange.Move)
        {
            Memslot? other = Memslots.Overlapping(id, ipa, ipa + sizeBytes);
            if (other is not null)
                return KvmResult.Fail(Errno.EEXIST, new SlotOverlap(id, ipa, ipa + sizeBytes, MemslotInfo.Of(other)));
        }

        // kvm_set_memslot: a moved slot's old range is invalidated (unmapped) before the architecture is asked.
        if (change == MemslotChange.Move)
            Policy.FlushShadowMemslot(ArchContext(), old!);

        var slot = new Memslot(id, ipa, sizeBytes, hva, flags, PageShift);
        // kvm_prepare_memory_region: the dirty bitmap is kept from the old slot, or allocated.
        if ((flags & MemslotFlags.LogDirtyPages) != 0)
        {
            slot.DirtyBitmap = old?.DirtyBitmap ?? NewDirtyBitmap(slot);
        }

        PageTables.Stage2Counters before = explain is null ? default : Stage2.Counters;
        KvmResult prepared = Policy.PrepareMemoryRegion(ArchContext(explain), old, slot, change);
        if (prepared.Succeeded)
        {
            if (old is not null)
                Memslots.Remove(old);
            Memslots.Add(slot);
            Policy.CommitMemoryRegion(ArchContext(), old, slot, change);
        }
        explain?.EndSlotChange(Policy.Name, slot, change, prepared.Errno, Stage2.Counters - before);
        return prepared;
    }

    /// <summary>
    /// Deletes a slot (KVM_SET_USER_MEMORY_REGION with size 0): kvm_set_memslot invalidates it (its IPA range is
    /// unmapped), then asks the architecture, which may refuse (a protected VM that has run: -EPERM); the slot
    /// then stays.
    /// </summary>
    public KvmResult DeleteSlot(int id)
    {
        Memslot? old = id >= 0 && id < Memslots.MaxSlots ? Memslots.ById(id) : null;
        if (old is null)
            return KvmResult.Fail(Errno.EINVAL, new NoSuchSlot(id));
        Policy.FlushShadowMemslot(ArchContext(), old);
        KvmResult prepared = Policy.PrepareMemoryRegion(ArchContext(), old, old, MemslotChange.Delete);
        if (!prepared.Succeeded)
            return prepared;
        Memslots.Remove(old);
        Policy.CommitMemoryRegion(ArchContext(), old, null, MemslotChange.Delete);
        return KvmResult.Ok;
    }

    /// <summary>Turns KVM_MEM_LOG_DIRTY_PAGES on or off (a flags-only update of the slot).</summary>
    public KvmResult SetDirtyLogging(int id, bool on)
    {
        Memslot? slot = id >= 0 && id < Memslots.MaxSlots ? Memslots.ById(id) : null;
        if (slot is null)
            return KvmResult.Fail(Errno.EINVAL, new NoSuchSlot(id));
        MemslotFlags flags = on ? slot.Flags | MemslotFlags.LogDirtyPages : slot.Flags & ~MemslotFlags.LogDirtyPages;
        return SetUserMemoryRegion(id, slot.Ipa, slot.SizeBytes, slot.UserspaceAddr, flags);
    }

    private DirtyBitmap NewDirtyBitmap(Memslot slot)
    {
        var bitmap = new DirtyBitmap(slot.NPages);
        // kvm_dirty_log_manual_protect_and_init_set: every page starts dirty.
        if (Config.ManualDirtyLogProtect)
            bitmap.SetAll();
        return bitmap;
    }
}
