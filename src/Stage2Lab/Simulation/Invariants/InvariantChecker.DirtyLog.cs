using System.Numerics;
using System.Runtime.CompilerServices;
using Stage2Lab.Host;
using Stage2Lab.Kvm;

namespace Stage2Lab.Simulation.Invariants;

/// <summary>
/// The dirty-bitmap invariant: the checker keeps its own record of the pages the guest wrote in each logging
/// session and checks the slot's bitmap holds them. A session is one <see cref="DirtyBitmap"/> object (KVM
/// allocates it when logging is enabled and keeps it across moves and flag changes), so the record is keyed
/// by it and dies with it — no hook in <see cref="KvmVm"/> is needed.
/// </summary>
public sealed partial class InvariantChecker
{
    // The pages written since the last harvest, one bit per page of the slot, kept as a bitmap of the same shape
    // as the slot's (whose words it is compared with).
    private readonly ConditionalWeakTable<DirtyBitmap, DirtyBitmap> _written = new();

    /// <summary>
    /// The guest completed a write to <paramref name="ipa"/> (a stage-2 hit, or the retry after a fault made
    /// the page writable). In a logging slot the page must now be in the dirty bitmap
    /// (mark_page_dirty_in_slot). <see cref="CheckAccess"/> calls this itself.
    /// </summary>
    public int RecordGuestWrite(KvmVm vm, ulong ipa, List<InvariantViolation> into, int eventIndex = -1)
    {
        Begin(vm, into, eventIndex, null);
        RecordWrite(ipa);
        return End();
    }

    /// <summary>
    /// KVM_GET_DIRTY_LOG ran on a slot (kvm_get_dirty_log_protect): without manual protect the bitmap was taken
    /// and cleared, so the recorded writes start over. With manual protect nothing is cleared here.
    /// </summary>
    public void NoteDirtyLogHarvested(KvmVm vm, int slotId)
    {
        Memslot? slot = slotId >= 0 && slotId < vm.Memslots.MaxSlots ? vm.Memslots.ById(slotId) : null;
        if (slot?.DirtyBitmap is null || vm.Config.ManualDirtyLogProtect)
            return;
        if (_written.TryGetValue(slot.DirtyBitmap, out DirtyBitmap? written))
            written.Clear();
    }

    /// <summary>KVM_CLEAR_DIRTY_LOG (kvm_clear_dirty_log_protect) cleared pages [firstPage, firstPage+numPages) of a slot.</summary>
    public void NoteDirtyLogCleared(KvmVm vm, int slotId, ulong firstPage, ulong numPages)
    {
        Memslot? slot = slotId >= 0 && slotId < vm.Memslots.MaxSlots ? vm.Memslots.ById(slotId) : null;
        if (slot?.DirtyBitmap is null || !_written.TryGetValue(slot.DirtyBitmap, out DirtyBitmap? written))
            return;
        ulong end = Math.Min(firstPage + numPages, slot.NPages);
        for (ulong page = firstPage; page < end; page++)
            written.ClearBits((int)(page >> 6), 1UL << (int)(page & 63));
    }

    private void RecordWrite(ulong ipa)
    {
        KvmVm vm = Vm;
        Memslot? slot = FindSlot(ipa);
        if (slot is null || !slot.IsLogging)
            return;
        ulong hva = slot.HvaOf(ipa & vm.Granule.PageMask);
        if (FindVma(hva) is { IsPfnMap: true })
            return;
        DirtyBitmap bitmap = slot.DirtyBitmap!;
        DirtyBitmap written = _written.GetValue(bitmap, static b => new DirtyBitmap(b.Pages));
        ulong pageIndex = (ipa - slot.Ipa) >> vm.PageShift;
        written.Set(pageIndex);
        if (!bitmap.IsSet(pageIndex))
        {
            ulong page = vm.PageSize;
            Report(InvariantKind.DirtyBitmapHoldsWrites, ipa & ~(page - 1), page, null,
                $"the guest wrote IPA 0x{ipa:x} (gfn 0x{ipa >> vm.PageShift:x}) in logging {slot} but its dirty bit is clear");
        }
    }

    /// <summary>Every recorded write of every logging slot against its bitmap, a word at a time.</summary>
    private void CheckRecordedWrites()
    {
        KvmVm vm = Vm;
        ReadOnlySpan<Memslot> slots = vm.Memslots.InIpaOrder;
        for (int s = 0; s < slots.Length && !_stopped; s++)
        {
            Memslot slot = slots[s];
            if (!slot.IsLogging || !_written.TryGetValue(slot.DirtyBitmap!, out DirtyBitmap? written))
                continue;
            DirtyBitmap bitmap = slot.DirtyBitmap!;
            for (int w = 0; w < written.WordCount && !_stopped; w++)
            {
                ulong missing = written.Word(w) & ~bitmap.Word(w);
                if (missing == 0)
                    continue;
                ulong pageIndex = (ulong)w * 64 + (ulong)BitOperations.TrailingZeroCount(missing);
                ulong ipa = slot.Ipa + (pageIndex << vm.PageShift);
                Report(InvariantKind.DirtyBitmapHoldsWrites, ipa, vm.PageSize, null,
                    $"{BitOperations.PopCount(missing)} page(s) from gfn 0x{ipa >> vm.PageShift:x} of logging {slot} were written since the last harvest but their dirty bits are clear");
            }
        }
    }
}
