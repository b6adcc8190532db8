using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Import;

internal sealed partial class ImportJoin
{
    /// <summary>QEMU's arm "virt" machine: RAM starts at 1 GiB (VIRT_MEM).</summary>
    private const ulong VirtRamBase = 0x4000_0000;

    /// <summary>QEMU's arm "virt" machine: the high PCIe MMIO window (VIRT_HIGH_PCIE_MMIO) at 512 GiB, where 64-bit BARs go.</summary>
    private const ulong VirtHighMmioBase = 0x80_0000_0000;

    private const ulong GiB = 1UL << 30;

    /// <summary>The VMA each RAM block (mtree region name) was matched to: one block, one VMA.</summary>
    private readonly Dictionary<string, VmaRecord> _ramBlocks = new(StringComparer.Ordinal);

    private void BuildSlots()
    {
        if (_r.Slots.Count > 0)
            SlotsFromTrace();
        if (_slots.Count == 0 && (_r.Listener.Count > 0 || _r.Mtree.Count > 0))
            SlotsFromListenerAndMtree();
        if (_slots.Count == 0)
            SlotsAssumed();
        foreach (GuestSlot slot in _slots.Where(s => s.Ipa + s.SizeBytes < s.Ipa || (s.Hva is { } hva && hva + s.SizeBytes < hva) || s.SizeBytes > ScenarioReader.MaxSizeBytes).ToList())
        {
            _r.Skipped.Add(new(slot.Sources[0], $"a memslot of {slot.SizeBytes:x} bytes at IPA 0x{slot.Ipa:x} wraps the 64-bit address space or exceeds 2^52: left out"));
            _slots.Remove(slot);
        }
    }

    /// <summary>
    /// kvm_set_user_memory gives every memslot exactly: the ioctls are replayed in order (size 0 deletes a slot,
    /// as in kvm_set_memory_region), refused ones (ret != 0) and other address spaces (x86 SMM) left out.
    /// </summary>
    private void SlotsFromTrace()
    {
        var live = new Dictionary<int, KvmSlotRecord>();
        int replayed = 0;
        foreach (KvmSlotRecord rec in _r.Slots)
        {
            if (rec.Ret != 0)
            {
                _r.Skipped.Add(new(rec.Where, $"KVM refused this memslot change (ret={rec.Ret}): it made no memslot"));
                continue;
            }
            if (rec.AddressSpace != 0)
            {
                _r.Skipped.Add(new(rec.Where, $"memslot {rec.Slot} of address space {rec.AddressSpace} (x86 SMM): KVM/arm64 has a single address space"));
                if (!_assumptions.Exists(a => a.Kind == AssumptionKind.X86Layout))
                    Assume(AssumptionKind.X86Layout, "host", "the records come from an x86 host (a memslot in address space 1, SMM); the layout is taken as KVM/arm64 would map it", rec.Where);
                continue;
            }
            replayed++;
            if (rec.SizeBytes == 0)
                live.Remove(rec.Slot);
            else
                live[rec.Slot] = rec;
        }
        foreach (KvmSlotRecord rec in live.Values.OrderBy(r => r.Gpa))
        {
            var slot = new GuestSlot { Id = rec.Slot, Ipa = rec.Gpa, SizeBytes = rec.SizeBytes, Hva = rec.Hva };
            if ((rec.Flags & KvmSlotRecord.FlagLogDirty) != 0)
                slot.Flags |= MemslotFlags.LogDirtyPages;
            if ((rec.Flags & KvmSlotRecord.FlagReadOnly) != 0)
                slot.Flags |= MemslotFlags.ReadOnly;
            if ((rec.Flags & KvmSlotRecord.FlagGuestMemfd) != 0)
                slot.Assumed.Add("KVM_MEM_GUEST_MEMFD: the private half lives in a guest_memfd; modelled by its shared (HVA) backing");
            slot.Sources.Add(rec.Where);
            if (MtreeRowAt(rec.Gpa, rec.SizeBytes) is { } row)
            {
                slot.VfioBar = row.VfioBar;
                slot.RegionName = row.Name;
                slot.Sources.Add(row.Where);
            }
            _slots.Add(slot);
        }
        if (replayed > live.Count)
            _facts.Add($"memslots: the state after replaying {replayed} kvm_set_user_memory ioctls in order (size=0 deletes a slot)");
        foreach (MtreeRow row in _r.Mtree.Where(m => m.Kvm))
        {
            if (!_slots.Exists(s => row.Start >= s.Ipa && row.EndInclusive < s.End))
                _r.Skipped.Add(new(row.Where, $"a KVM row [0x{row.Start:x}, 0x{row.EndInclusive:x}] inside no memslot of the trace: mtree and trace were taken at different moments"));
        }
    }

    private MtreeRow? MtreeRowAt(ulong gpa, ulong size) =>
        _r.Mtree.Find(m => m.Type is "ram" or "ramd" or "rom" or "romd" && gpa >= m.Start && gpa <= m.EndInclusive && gpa + size - 1 <= m.EndInclusive)
        ?? _r.Mtree.Find(m => m.VfioBar is not null && gpa <= m.EndInclusive && m.Start <= gpa + size - 1);

    /// <summary>
    /// Without kvm_set_user_memory: the GPA ranges QEMU hands the IOMMU (vfio_listener_region_add_ram, replayed with
    /// region_del) are the RAM and ramd sections KVM gets as memslots too, each with its HVA; the mtree's KVM rows
    /// add the rest, their HVA found from the maps (a BAR mmap by device, region index and offset; a RAM block by size).
    /// </summary>
    private void SlotsFromListenerAndMtree()
    {
        var ranges = new List<ListenerRecord>();
        foreach (ListenerRecord rec in _r.Listener)
        {
            if (rec.Add)
            {
                ranges.RemoveAll(x => x.GpaStart <= rec.GpaEndInclusive && rec.GpaStart <= x.GpaEndInclusive);
                ranges.Add(rec);
            }
            else if (ranges.RemoveAll(x => x.GpaStart == rec.GpaStart && x.GpaEndInclusive == rec.GpaEndInclusive) == 0)
            {
                ranges.RemoveAll(x => x.GpaStart <= rec.GpaEndInclusive && rec.GpaStart <= x.GpaEndInclusive);
            }
        }
        foreach (ListenerRecord rec in ranges.OrderBy(r => r.GpaStart))
        {
            var slot = new GuestSlot { Ipa = rec.GpaStart, SizeBytes = rec.SizeBytes, Hva = rec.Hva };
            slot.Sources.Add(rec.Where);
            if (MtreeRowAt(rec.GpaStart, rec.SizeBytes) is { } row)
            {
                slot.VfioBar = row.VfioBar;
                slot.RegionName = row.Name;
                slot.Sources.Add(row.Where);
                if (row.Type is "rom" or "romd")
                    slot.Flags |= MemslotFlags.ReadOnly;
            }
            else if (_r.VfioMmaps.Where(m => m.SizeBytes == rec.SizeBytes).ToList() is { Count: 1 } same)
            {
                slot.VfioBar = (same[0].Device, same[0].Bar, same[0].MmapIndex);
                slot.Sources.Add(same[0].Where);
                slot.Assumed.Add($"the {SizeText.Format(rec.SizeBytes)} range is {same[0].Device} BAR {same[0].Bar} mmaps[{same[0].MmapIndex}], the one vfio mmap of that size");
            }
            _slots.Add(slot);
        }
        bool anyKvm = _r.Mtree.Exists(m => m.Kvm);
        var rows = _r.Mtree.Where(m => anyKvm ? m.Kvm : m.Type is "ram" or "ramd" or "rom" or "romd").ToList();
        if (!anyKvm && rows.Count > 0)
            Assume(AssumptionKind.GuestMemory, "info mtree -f", "no row carries the KVM marker (an older QEMU): every ram, ramd, rom and romd row of the system view is taken as a memslot", rows[0].Where);
        foreach (MtreeRow row in rows)
        {
            if (_slots.Exists(s => row.Start <= s.End - 1 && s.Ipa <= row.EndInclusive))
                continue;
            var slot = new GuestSlot { Ipa = row.Start, SizeBytes = row.SizeBytes, VfioBar = row.VfioBar, RegionName = row.Name, BarOffset = row.VfioBar is null ? 0 : row.Offset };
            slot.Sources.Add(row.Where);
            if (row.Type is "rom" or "romd")
                slot.Flags |= MemslotFlags.ReadOnly;
            slot.Hva = MtreeHva(row, slot);
            _slots.Add(slot);
        }
        _slots.Sort((a, b) => a.Ipa.CompareTo(b.Ipa));
        for (int i = 0; i < _slots.Count; i++)
            _slots[i].Id = i;
        Assume(AssumptionKind.SlotId, "memslots", "ids numbered in guest-address order (only kvm_set_user_memory traces show QEMU's slot ids)");
    }

    /// <summary>The HVA of an mtree KVM row, from the VMA it must be: a BAR mmap, or the RAM block's VMA.</summary>
    private ulong? MtreeHva(MtreeRow row, GuestSlot slot)
    {
        if (row.VfioBar is { } vb)
        {
            VfioMmapRecord? mmap = _r.VfioMmaps.Find(m => m.Device == vb.Device && m.Bar == vb.Bar && m.MmapIndex == vb.MmapIndex);
            var candidates = _vfio.Where(p => p.Value.Bar.Index == vb.Bar && (p.Value.Bar.Device == vb.Device || p.Value.Bar.Unnamed))
                .OrderBy(p => p.Value.Bar.Device == vb.Device ? 0 : 1).ThenBy(p => p.Value.OffsetInBar).ThenBy(p => p.Key.Start).ToList();
            if (mmap is not null)
                candidates = candidates.Where(p => p.Value.OffsetInBar == mmap.Offset).ToList();
            else if (candidates.Count(p => p.Value.Bar.Device == vb.Device) > vb.MmapIndex)
                candidates = [candidates[vb.MmapIndex]];
            if (candidates.Count > 0)
            {
                VmaRecord vma = candidates[0].Key;
                HostBar bar = candidates[0].Value.Bar;
                slot.Sources.Add(vma.Where);
                if (bar.Device != vb.Device)
                {
                    slot.Assumed.Add($"the mmap of {vb.Device} BAR {vb.Bar} is the VMA at {vma.Where} (matched by region index; the VMA does not name its device)");
                    bar.Device = vb.Device;
                }
                return vma.Start + row.Offset;
            }
            return null;
        }
        if (_ramBlocks.TryGetValue(row.Name, out VmaRecord? claimed))
        {
            slot.Sources.Add(claimed.Where);
            return claimed.Start + row.Offset;
        }
        ulong blockAtLeast = _r.Mtree.Where(m => m.Name == row.Name && m.VfioBar is null).Max(m => m.Offset + m.SizeBytes);
        var ram = _vmas.Where(v => !_ramBlocks.Values.Contains(v) && _roles[v] is VmaRole.Anonymous or VmaRole.Shmem or VmaRole.Hugetlb && v.Writable &&
                (v.SizeBytes == blockAtLeast || (VmaClassifier.IsGuestRamCandidate(v, _roles[v]) && v.SizeBytes >= blockAtLeast)))
            .OrderBy(v => v.SizeBytes).ThenBy(v => v.Start).ToList();
        if (ram.Count == 0)
            return null;
        var best = ram.Where(v => v.SizeBytes == ram[0].SizeBytes).ToList();
        _ramBlocks[row.Name] = best[0];
        slot.Sources.Add(best[0].Where);
        if (best.Count > 1 || best[0].SizeBytes != blockAtLeast)
            slot.Assumed.Add($"RAM block '{row.Name}' (at least {SizeText.Format(blockAtLeast)}) is the VMA at {best[0].Where}, the smallest guest-RAM VMA that holds it");
        return best[0].Start + row.Offset;
    }

    /// <summary>
    /// Host-side records only (maps/smaps/pmap, lspci, iomem): the guest's addresses are not in them. Guest RAM is the
    /// large anonymous, shmem and hugetlbfs VMAs, placed from 1 GiB up as QEMU's virt machine does; each vfio-pci
    /// BAR is placed in the high PCIe window at 512 GiB, aligned to its size as the guest's PCI core assigns BARs.
    /// </summary>
    private void SlotsAssumed()
    {
        ulong ipa = VirtRamBase;
        foreach (VmaRecord v in _vmas.Where(v => VmaClassifier.IsGuestRamCandidate(v, _roles[v])))
        {
            ulong align = Math.Max(GiB, HugePageSize(v) ?? 0);
            ipa = AlignUp(ipa, align);
            var slot = new GuestSlot { Ipa = ipa, SizeBytes = v.SizeBytes, Hva = v.Start };
            slot.Sources.Add(v.Where);
            slot.Assumed.Add($"guest RAM (a {SizeText.Format(v.SizeBytes)} writable {_roles[v].ToString().ToLowerInvariant()} VMA) at IPA 0x{ipa:x}");
            _slots.Add(slot);
            ipa += v.SizeBytes;
        }
        if (_slots.Count > 0)
            Assume(AssumptionKind.GuestMemory, "guest RAM", $"writable anonymous, shmem and hugetlbfs VMAs of at least {SizeText.Format(VmaClassifier.MinGuestRamBytes)} are the guest's RAM, placed from IPA 0x{VirtRamBase:x} up (QEMU virt's RAM base); no guest-side record says which VMAs are RAM or where the guest sees them");
        var bars = _vfio.GroupBy(p => p.Value.Bar).OrderBy(g => g.Key.Device, StringComparer.Ordinal).ThenBy(g => g.Key.Index ?? 0).ToList();
        ulong mmio = VirtHighMmioBase;
        foreach (var group in bars)
        {
            HostBar bar = group.Key;
            ulong size = PowerOfTwoAtLeast(bar.SizeBytes ?? group.Max(p => p.Value.OffsetInBar + p.Key.SizeBytes));
            ulong barIpa = AlignUp(mmio, size);
            mmio = barIpa + size;
            foreach (var (vma, placement) in group.OrderBy(p => p.Value.OffsetInBar))
            {
                var slot = new GuestSlot { Ipa = barIpa + placement.OffsetInBar, SizeBytes = vma.SizeBytes, Hva = vma.Start, VfioBar = bar.Index is { } i ? (bar.Device, i, 0) : null };
                slot.Sources.Add(vma.Where);
                slot.Assumed.Add($"{bar.Label} seen by the guest at IPA 0x{barIpa:x} (its size-aligned place in the high PCIe window)");
                _slots.Add(slot);
            }
        }
        if (bars.Count > 0)
            Assume(AssumptionKind.GuestAddress, "BARs", $"each vfio-pci BAR mmap is a memslot, the BAR at a size-aligned IPA from 0x{VirtHighMmioBase:x} up (QEMU virt's high PCIe MMIO window); no guest-side record gives the guest's BAR addresses");
        if (_slots.Count == 0)
            SlotsFromHostBarsOnly();
        for (int i = 0; i < _slots.Count; i++)
            _slots[i].Id = i;
        if (_slots.Count > 0)
            Assume(AssumptionKind.SlotId, "memslots", "ids numbered in the order above (only kvm_set_user_memory traces show QEMU's slot ids)");
    }

    /// <summary>lspci/iomem only: the BARs of devices bound to vfio-pci are passed through, mmap'ed by the VMM.</summary>
    private void SlotsFromHostBarsOnly()
    {
        bool anyDriver = _r.PciDevices.Exists(d => d.Driver is not null);
        var passed = _bars.Where(b => b.Pa is not null && b.SizeBytes is not null &&
            (b.VfioClaimed || _r.PciDevices.Exists(d => d.Device == b.Device && (d.Driver == "vfio-pci" || (!anyDriver && !_r.Iomem.Exists(r => r.Name == "vfio-pci"))))))
            .OrderBy(b => b.Device, StringComparer.Ordinal).ThenBy(b => b.Index ?? 0).ThenBy(b => b.Pa).ToList();
        if (passed.Count == 0)
            return;
        Assume(AssumptionKind.GuestMemory, "BARs", anyDriver || _r.Iomem.Exists(r => r.Name == "vfio-pci")
            ? "the BARs of devices bound to vfio-pci are passed through to the guest and mmap'ed by the VMM"
            : "every memory BAR listed is passed through (no `Kernel driver in use:` line says which devices are bound to vfio-pci)");
        ulong mmio = VirtHighMmioBase;
        foreach (HostBar bar in passed)
        {
            ulong size = bar.SizeBytes!.Value;
            if (size < _granule.PageSize)
            {
                _r.Skipped.Add(new(bar.Sources[0], $"{bar.Label} is {size} bytes, smaller than a page: KVM cannot map it, the VMM emulates it"));
                continue;
            }
            ulong barIpa = AlignUp(mmio, PowerOfTwoAtLeast(size));
            mmio = barIpa + PowerOfTwoAtLeast(size);
            var slot = new GuestSlot { Ipa = barIpa, SizeBytes = size, Bar = bar, VfioBar = bar.Index is { } i ? (bar.Device, i, 0) : null };
            slot.Sources.AddRange(bar.Sources);
            slot.Assumed.Add($"the guest sees {bar.Label} at IPA 0x{barIpa:x} (size-aligned in the high PCIe window)");
            _slots.Add(slot);
        }
        Assume(AssumptionKind.GuestAddress, "BARs", $"each BAR at a size-aligned IPA from 0x{VirtHighMmioBase:x} up (QEMU virt's high PCIe MMIO window)");
    }

    private ulong? HugePageSize(VmaRecord v) =>
        _roles[v] != VmaRole.Hugetlb ? null
        : v.KernelPageSizeBytes is { } k && k > _granule.PageSize ? k
        : VmaClassifier.HugePageSizeFromPath(v.Path);

    private static ulong AlignUp(ulong value, ulong align) => align <= 1 ? value : (value + align - 1) & ~(align - 1);
}
