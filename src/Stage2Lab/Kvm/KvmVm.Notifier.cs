using Stage2Lab.Host;

namespace Stage2Lab.Kvm;

/// <summary>The MMU notifier: the VMM's mappings change under KVM.</summary>
public sealed partial class KvmVm
{
    /// <summary>
    /// munmap(hva, size): the MMU notifier unmaps, in every slot the range touches, the IPAs it backs
    /// (kvm_unmap_gfn_range), then the host removes the range (VMAs split, vm_pgoff of upper pieces advance).
    /// A host refusal (a hugetlb VMA split inside a huge page) leaves everything as it was.
    /// </summary>
    public HostResult Munmap(ulong hva, ulong sizeBytes)
    {
        HostResult check = Host.CheckMunmap(hva, sizeBytes);
        if (!check.Succeeded)
            return check;
        ulong end = (hva + sizeBytes + PageSize - 1) & Granule.PageMask;
        InvalidateHvaRange(hva, end);
        return Host.Munmap(hva, sizeBytes);
    }

    /// <summary>
    /// A device reset or driver zap of [hva, hva+size) (unmap_mapping_range / zap_vma_ptes): the host PTEs go,
    /// the VMA stays, and the MMU notifier unmaps the stage-2 ranges; later faults map them again.
    /// </summary>
    public void ZapHvaRange(ulong hva, ulong sizeBytes)
    {
        InvalidateHvaRange(hva & Granule.PageMask, (hva + sizeBytes + PageSize - 1) & Granule.PageMask);
    }

    /// <summary>kvm_mmu_notifier_invalidate_range_start → kvm_unmap_gfn_range for every overlapping slot.</summary>
    private void InvalidateHvaRange(ulong hva, ulong end)
    {
        foreach (Memslot slot in Memslots.OverlappingHva(hva, end))
        {
            // __kvm_handle_hva_range: clip to the slot, convert to gfns (end rounded up to a page).
            ulong start = Math.Max(hva, slot.UserspaceAddr);
            ulong stop = Math.Min(end, slot.HvaEnd);
            ulong ipa = slot.IpaOf(start);
            ulong ipaEnd = slot.IpaOf(stop - 1) + 1;
            ipaEnd = (ipaEnd + PageSize - 1) & Granule.PageMask;
            Mmu.UnmapGfnRange(ipa, ipaEnd - ipa);
        }
    }

    /// <summary>
    /// kvm_mmu_notifier_clear_flush_young over an HVA range (page aging): test-and-clear AF in every slot the
    /// range touches (kvm_age_gfn), flushing TLBs when something was young. Returns whether anything was.
    /// </summary>
    public bool AgeHvaRange(ulong hva, ulong sizeBytes)
    {
        // 7.x protected_pkvm_vm_s2_ops: no_age_gfn, the hypervisor does not support aging a protected guest.
        if (Config.Flavor == VmFlavor.ProtectedPkvm)
            return false;
        bool young = false;
        ulong end = (hva + sizeBytes + PageSize - 1) & Granule.PageMask;
        foreach (Memslot slot in Memslots.OverlappingHva(hva, end))
        {
            ulong start = Math.Max(hva, slot.UserspaceAddr);
            ulong stop = Math.Min(end, slot.HvaEnd);
            ulong ipa = slot.IpaOf(start);
            young |= Stage2.TestClearYoung(ipa, stop - start, mkold: true);
        }
        if (young)
            Mmu.FlushAllTlbs();
        return young;
    }
}
