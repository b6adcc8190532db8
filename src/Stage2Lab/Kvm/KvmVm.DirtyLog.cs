using System.Numerics;
using Stage2Lab.Arch;

namespace Stage2Lab.Kvm;

/// <summary>KVM_GET_DIRTY_LOG and KVM_CLEAR_DIRTY_LOG.</summary>
public sealed partial class KvmVm
{
    /// <summary>
    /// KVM_GET_DIRTY_LOG (kvm_get_dirty_log_protect): the dirty pages of a slot as gfns. Without manual protect
    /// each non-zero bitmap word is taken and cleared, and the range from its first to its last set bit is
    /// write-protected again (kvm_arch_mmu_enable_log_dirty_pt_masked), then TLBs are flushed. With manual
    /// protect the bitmap is only copied. -ENOENT for an unknown slot or one without a dirty bitmap.
    /// </summary>
    public KvmResult GetDirtyLog(int id, List<ulong> dirtyGfns)
    {
        Memslot? slot = id >= 0 && id < Memslots.MaxSlots ? Memslots.ById(id) : null;
        if (slot?.DirtyBitmap is null)
            return KvmResult.Fail(Errno.ENOENT, slot is null ? new NoSuchSlot(id) : new NoDirtyBitmap(id));
        DirtyBitmap bitmap = slot.DirtyBitmap;
        bool flush = false;
        for (int i = 0; i < bitmap.WordCount; i++)
        {
            ulong mask = Config.ManualDirtyLogProtect ? bitmap.Word(i) : bitmap.TakeWord(i);
            if (mask == 0)
                continue;
            AppendGfns(slot, i, mask, dirtyGfns);
            if (!Config.ManualDirtyLogProtect)
            {
                flush = true;
                EnableLogDirtyMasked(slot, (ulong)i * 64, mask);
            }
        }
        if (flush)
            Mmu.FlushRemoteTlbs(slot.Ipa, slot.SizeBytes);
        return KvmResult.Ok;
    }

    /// <summary>
    /// KVM_CLEAR_DIRTY_LOG (kvm_clear_dirty_log_protect, manual protect): clears the given pages' dirty bits
    /// and write-protects (and, with eager splitting, splits) the pages that were dirty.
    /// </summary>
    public KvmResult ClearDirtyLog(int id, ulong firstPage, ulong numPages)
    {
        Memslot? slot = id >= 0 && id < Memslots.MaxSlots ? Memslots.ById(id) : null;
        if (slot?.DirtyBitmap is null)
            return KvmResult.Fail(Errno.ENOENT, slot is null ? new NoSuchSlot(id) : new NoDirtyBitmap(id));
        if (!Config.ManualDirtyLogProtect)
            return KvmResult.Fail(Errno.EINVAL, new ManualProtectNotEnabled(id));
        if ((firstPage & 63) != 0 || (numPages & 63) != 0 && firstPage + numPages != slot.NPages || firstPage + numPages > slot.NPages || firstPage + numPages < firstPage)
            return KvmResult.Fail(Errno.EINVAL, new ClearRangeInvalid(id, firstPage, numPages, slot.NPages));
        DirtyBitmap bitmap = slot.DirtyBitmap;
        bool flush = false;
        ulong end = firstPage + numPages;
        for (ulong page = firstPage; page < end; page += 64)
        {
            int word = (int)(page >> 6);
            ulong span = Math.Min(64, end - page);
            ulong want = span == 64 ? ulong.MaxValue : (1UL << (int)span) - 1;
            ulong mask = bitmap.ClearBits(word, want);
            if (mask == 0)
                continue;
            flush = true;
            EnableLogDirtyMasked(slot, page, mask);
        }
        if (flush)
            Mmu.FlushRemoteTlbs(slot.Ipa, slot.SizeBytes);
        return KvmResult.Ok;
    }

    /// <summary>
    /// kvm_arch_mmu_enable_log_dirty_pt_masked: write-protect from the first to the last set bit of a word
    /// (clean pages in between included); with manual protect and initially-all-set, also split them eagerly.
    /// </summary>
    private void EnableLogDirtyMasked(Memslot slot, ulong pageOffset, ulong mask)
    {
        ulong baseIpa = slot.Ipa + (pageOffset << PageShift);
        ulong start = baseIpa + ((ulong)BitOperations.TrailingZeroCount(mask) << PageShift);
        ulong end = baseIpa + ((ulong)(63 - BitOperations.LeadingZeroCount(mask) + 1) << PageShift);
        Mmu.WriteProtectRange(start, end);
        if (Config.ManualDirtyLogProtect)
            Mmu.SplitHugePages(start, end);
    }

    private void AppendGfns(Memslot slot, int word, ulong mask, List<ulong> gfns)
    {
        while (mask != 0)
        {
            int bit = BitOperations.TrailingZeroCount(mask);
            gfns.Add(slot.BaseGfn + (ulong)word * 64 + (ulong)bit);
            mask &= mask - 1;
        }
    }
}
