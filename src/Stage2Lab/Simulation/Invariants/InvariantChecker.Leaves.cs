using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.Kvm;
using Stage2Lab.PageTables;

namespace Stage2Lab.Simulation.Invariants;

/// <summary>The invariants of valid leaves.</summary>
public sealed partial class InvariantChecker
{
    // Probe mode: a run of leaves is checked as one range; Report only notes that something failed.
    private bool _probing;
    private bool _probeFailed;

    /// <summary>
    /// Checks <paramref name="count"/> consecutive leaves of one table that differ only in AF and map
    /// consecutive PAs: every rule below depends only on the IPA range, the PA range and the attributes, so
    /// the run is checked as one range (O(pieces) whatever its length). Only when that fails is it checked
    /// leaf by leaf, so each violation still names its own leaf.
    /// </summary>
    private void CheckLeafRun(ulong ipa, int level, ulong leafSize, int count, ReadOnlySpan<ulong> entries, int firstIndex)
    {
        if (count > 1)
        {
            _probing = true;
            _probeFailed = false;
            CheckLeaf(ipa, level, leafSize, count, entries[firstIndex]);
            _probing = false;
            if (!_probeFailed)
                return;
        }
        for (int k = 0; k < count && !_stopped; k++)
            CheckLeaf(ipa + (ulong)k * leafSize, level, leafSize, 1, entries[firstIndex + k]);
    }

    /// <summary>The leaf invariants of one leaf (<paramref name="count"/> 1) or of a run (see <see cref="CheckLeafRun"/>).</summary>
    private void CheckLeaf(ulong ipa, int level, ulong leafSize, int count, ulong raw)
    {
        KvmVm vm = Vm;
        var desc = new Descriptor(raw);
        ulong sizeBytes = leafSize * (ulong)count;
        var leaf = new LeafEntry(ipa, level, leafSize, desc);
        ulong pa = raw & vm.Stage2.Inspect.AddressMask;
        ulong end = ipa + sizeBytes;
        ulong mask = leafSize - 1;

        // fault_supports_stage2_huge_mapping / kvm_arch_flush_shadow_memslot (mmu.c): a leaf lies in one memslot.
        Memslot? slot = FindSlot(ipa);
        if (slot is null)
            Report(InvariantKind.LeafInOneMemslot, ipa, leafSize, leaf, $"{LeafText(in leaf, pa)} lies in no memslot");
        else if (end > slot.IpaEnd)
            Report(InvariantKind.LeafInOneMemslot, ipa, leafSize, leaf,
                $"{LeafText(in leaf, pa)} runs 0x{end - slot.IpaEnd:x} bytes past the end of {slot} (IPA 0x{slot.IpaEnd:x})");

        // kvm_block_mapping_supported (hyp/pgtable.c): the output address is aligned to the leaf size.
        if ((pa & mask) != 0)
            Report(InvariantKind.AddressesCongruent, ipa, leafSize, leaf,
                $"{LeafText(in leaf, pa)}: PA is 0x{pa & mask:x} bytes off a 0x{leafSize:x} boundary");

        Vma? vma = null;
        ulong hva = 0;
        // A protected guest's pages are pinned and donated (protected_pkvm_mem_abort, FOLL_LONGTERM): they stay
        // the guest's when the VMM unmaps them (no_stage2_unmap_range), so the host's VMAs are no reference.
        bool hostIsReference = vm.Config.Flavor != VmFlavor.ProtectedPkvm;
        if (slot is not null && hostIsReference)
        {
            hva = slot.HvaOf(ipa);
            // fault_supports_stage2_huge_mapping (mmu.c): IPA and HVA have the same offset in the block.
            if (((hva ^ ipa) & mask) != 0)
                Report(InvariantKind.AddressesCongruent, ipa, leafSize, leaf,
                    $"{LeafText(in leaf, pa)}: HVA 0x{hva:x} is 0x{hva & mask:x} bytes into a 0x{leafSize:x} block, the IPA 0x{ipa & mask:x}");

            // get_vma_page_shift (v5.14+ mmu.c): the block lies inside the VMA.
            vma = FindVma(hva);
            ulong hvaEnd = hva + sizeBytes;
            if (vma is null)
                Report(InvariantKind.LeafInOneVma, ipa, leafSize, leaf, $"{LeafText(in leaf, pa)}: no VMA holds its HVA 0x{hva:x}");
            else if (hvaEnd > vma.End || hvaEnd < hva)
                Report(InvariantKind.LeafInOneVma, ipa, leafSize, leaf,
                    $"{LeafText(in leaf, pa)} at HVA [0x{hva:x}, 0x{hvaEnd:x}) runs 0x{hvaEnd - vma.End:x} bytes past the end of VMA {vma}");
        }

        if (hostIsReference && slot is not null && vma is not null && end <= slot.IpaEnd && hva + sizeBytes <= vma.End && hva + sizeBytes > hva)
        {
            // The common case: one slot, one VMA, one linear segment to compare.
            if (FirstHostMismatch(vma, hva, hva + sizeBytes, pa - hva, out ulong badHva))
                ReportHostMismatch(in leaf, pa, slot, vma, badHva, pa - hva);
        }
        else if (hostIsReference)
        {
            CheckHostPa(in leaf, pa, sizeBytes);
        }
        CheckDeviceAttributes(in leaf, pa, sizeBytes, vma);

        // fault_supports_stage2_huge_mapping (6.15+ mmu.c): pKVM maps PMD_SIZE blocks only, a protected guest pages.
        if (vm.Config.ProtectedKvmEnabled && leafSize > vm.PageSize && (vm.Config.Flavor == VmFlavor.ProtectedPkvm || leafSize != vm.Host.Config.PmdSize))
            Report(InvariantKind.ProtectedKvmBlockSize, ipa, leafSize, leaf,
                $"{LeafText(in leaf, pa)} is a 0x{leafSize:x} block under {(vm.Config.Flavor == VmFlavor.ProtectedPkvm ? "a protected guest (pages only)" : $"protected KVM (PMD_SIZE 0x{vm.Host.Config.PmdSize:x} only)")}");
        if (slot is null)
            return;

        // __gfn_to_pfn_memslot (kvm_main.c): a READONLY slot is never mapped writable.
        if (slot.IsReadOnly && desc.Writable)
            Report(InvariantKind.ReadOnlySlotNotWritable, ipa, leafSize, leaf, $"{LeafText(in leaf, pa)} is writable in READONLY {slot}");

        // user_mem_abort logging_active (v5.14+ mmu.c): pages only, writable only once marked dirty.
        if (slot.IsLogging && desc.Writable && vma is not { IsPfnMap: true })
        {
            ulong page = vm.PageSize;
            if (leafSize > page)
            {
                Report(InvariantKind.LoggingSlotLeaves, ipa, leafSize, leaf,
                    $"{LeafText(in leaf, pa)} is a writable L{level} block in logging {slot}: writes to it would not be tracked per page");
            }
            else
            {
                DirtyBitmap bitmap = slot.DirtyBitmap!;
                ulong first = (ipa - slot.Ipa) >> vm.PageShift;
                ulong last = Math.Min(first + (ulong)count, bitmap.Pages);
                for (ulong pageIndex = first; pageIndex < last; pageIndex++)
                {
                    if (!bitmap.IsSet(pageIndex))
                    {
                        Report(InvariantKind.LoggingSlotLeaves, ipa, leafSize, leaf,
                            $"{LeafText(in leaf, pa)} is writable in logging {slot} but gfn 0x{ipa >> vm.PageShift:x} is not marked dirty");
                        break;
                    }
                }
            }
        }
    }

    /// <summary>
    /// Every page of the leaf must map the PA the host maps at its HVA. The leaf maps IPA i to pa + (i - ipa);
    /// over each memslot and VMA segment that is a linear map, and the host's map (<see cref="Vma.PaOf"/>) is
    /// linear between remap-piece edges, so one probe at the segment start and one per piece edge inside it
    /// decide the whole segment: O(pieces²) per leaf whatever its size. Pages outside any slot or VMA have no
    /// host mapping to compare with (the leaf-in-slot / leaf-in-VMA invariants report them).
    /// </summary>
    private void CheckHostPa(in LeafEntry leaf, ulong pa, ulong sizeBytes)
    {
        ulong end = leaf.Ipa + sizeBytes;
        ulong cur = leaf.Ipa;
        while (cur < end)
        {
            Memslot? slot = FindSlot(cur);
            if (slot is null)
            {
                ulong next = NextSlotStart(cur);
                if (next >= end)
                    return;
                cur = next;
                continue;
            }
            ulong segEnd = Math.Min(end, slot.IpaEnd);
            ulong h = slot.HvaOf(cur);
            ulong hEnd = h + (segEnd - cur);
            // The stage-2 PA at HVA x of this segment is x + delta (mod 2^64).
            ulong delta = pa + (cur - leaf.Ipa) - h;
            while (h < hEnd)
            {
                Vma? vma = FindVma(h);
                if (vma is null)
                {
                    ulong nextVma = NextVmaStart(h);
                    if (nextVma >= hEnd)
                        break;
                    h = nextVma;
                    continue;
                }
                ulong vEnd = Math.Min(hEnd, vma.End);
                if (FirstHostMismatch(vma, h, vEnd, delta, out ulong badHva))
                {
                    ReportHostMismatch(in leaf, pa, slot, vma, badHva, delta);
                    return;
                }
                h = vEnd;
            }
            cur = segEnd;
        }
    }

    private void ReportHostMismatch(in LeafEntry leaf, ulong pa, Memslot slot, Vma vma, ulong badHva, ulong delta)
    {
        ulong badIpa = slot.IpaOf(badHva);
        ulong hostPa = vma.PaOf(badHva, Vm.PageShift);
        Report(InvariantKind.PaMatchesHost, leaf.Ipa, leaf.SizeBytes, leaf,
            $"{LeafText(in leaf, pa)}: page at IPA 0x{badIpa:x} (HVA 0x{badHva:x}) is mapped to PA 0x{badHva + delta:x} but the host maps PA 0x{hostPa:x} there (VMA {vma}, {vma.Pieces.Count} remapped pieces)");
    }

    /// <summary>
    /// The lowest HVA in [start, end) whose host PA is not hva + delta, probing only the points where the
    /// host's map can change slope: <paramref name="start"/> and the remap-piece edges inside the range.
    /// </summary>
    private bool FirstHostMismatch(Vma vma, ulong start, ulong end, ulong delta, out ulong badHva)
    {
        int shift = Vm.PageShift;
        if (vma.PaOf(start, shift) - start != delta)
        {
            badHva = start;
            return true;
        }
        badHva = ulong.MaxValue;
        List<RemapPiece> pieces = vma.Pieces;
        for (int i = 0; i < pieces.Count; i++)
        {
            RemapPiece piece = pieces[i];
            ulong a = piece.Hva, b = piece.End;
            if (a > start && a < end && a < badHva && vma.PaOf(a, shift) - a != delta)
                badHva = a;
            if (b > start && b < end && b < badHva && vma.PaOf(b, shift) - b != delta)
                badHva = b;
        }
        return badHva != ulong.MaxValue;
    }

    /// <summary>
    /// Memory that is not RAM (kvm_is_device_pfn) is mapped Device or Normal-NC, never executable
    /// (stage2_set_prot_attr refuses X with either), Normal-NC only for a VM_ALLOW_ANY_UNCACHED VMA (6.8+), and
    /// Normal cacheable only for a cacheable VMA with FWB (kvm_supports_cacheable_pfnmap, 6.16+) — such a
    /// mapping is treated as memory, so it may then be executable.
    /// </summary>
    private void CheckDeviceAttributes(in LeafEntry leaf, ulong pa, ulong sizeBytes, Vma? vma)
    {
        KvmVm vm = Vm;
        if (IsRam(pa, sizeBytes))
            return;
        Descriptor desc = leaf.Descriptor;
        bool fwb = vm.Features.Fwb;
        MemoryType? type = MemAttr.Decode(desc.MemAttrField, fwb);
        if (type == MemoryType.Normal)
        {
            if (!(fwb && vma is { Cacheable: true }))
                Report(InvariantKind.DeviceMemoryAttributes, leaf.Ipa, leaf.SizeBytes, leaf,
                    $"{LeafText(in leaf, pa)} maps non-RAM PA Normal cacheable (MemAttr 0x{desc.MemAttrField:x}) with FWB {(fwb ? "on" : "off")} and {(vma is null ? "no VMA" : vma.Cacheable ? "a cacheable VMA" : "a non-cacheable VMA")}");
            return;
        }
        if (type is null)
            Report(InvariantKind.DeviceMemoryAttributes, leaf.Ipa, leaf.SizeBytes, leaf,
                $"{LeafText(in leaf, pa)} maps non-RAM PA with MemAttr 0x{desc.MemAttrField:x}, an encoding KVM never writes (FWB {(fwb ? "on" : "off")})");
        if (desc.Executable)
            Report(InvariantKind.DeviceMemoryAttributes, leaf.Ipa, leaf.SizeBytes, leaf,
                $"{LeafText(in leaf, pa)} maps non-RAM PA executable (XN clear)");
        if (type == MemoryType.NormalNonCacheable && (vma is null || (vma.Flags & VmFlags.AllowAnyUncached) == 0))
            Report(InvariantKind.DeviceMemoryAttributes, leaf.Ipa, leaf.SizeBytes, leaf,
                $"{LeafText(in leaf, pa)} maps non-RAM PA Normal-NC but {(vma is null ? "no VMA holds it" : $"VMA {vma} lacks VM_ALLOW_ANY_UNCACHED")}");
    }

    /// <summary>user_mem_abort (v5.14+): with logging_active every fault maps PAGE_SIZE (force_pte).</summary>
    private void CheckFaultMappedBlockWhileLogging(ulong ipa, ulong sizeBytes)
    {
        KvmVm vm = Vm;
        if (sizeBytes <= vm.PageSize)
            return;
        Memslot? slot = FindSlot(ipa);
        if (slot is null || !slot.IsLogging)
            return;
        Vma? vma = FindVma(slot.HvaOf(ipa));
        if (vma is { IsPfnMap: true })
            return;
        Report(InvariantKind.LoggingSlotLeaves, ipa, sizeBytes, null,
            $"a fault mapped 0x{sizeBytes:x} bytes at IPA 0x{ipa:x} in logging {slot}: dirty logging forces PAGE_SIZE (0x{vm.PageSize:x}) mappings");
    }

    /// <summary>91a2c34b7d6f (v5.10): a device pfn forces PAGE_SIZE so transparent_hugepage_adjust never sees it.</summary>
    private void CheckThpOnDevicePfn(in FaultResult result)
    {
        ulong page = Vm.PageSize;
        Report(InvariantKind.NoThpOnDevicePfn, result.Ipa & ~(page - 1), page, null,
            $"the fault at IPA 0x{result.Ipa:x} consulted transparent_hugepage_adjust for device PA 0x{result.Pa:x}: kvm_is_transparent_hugepage() read the struct page of a pfn that has none (fixed by 91a2c34b7d6f)");
    }

    /// <summary>
    /// pfn_is_map_memory over [pa, pa+size) (all of it in one RAM range), remembering the RAM range or the gap
    /// between RAM ranges last seen in this call, so a run of leaves in one BAR costs no search.
    /// </summary>
    private bool IsRam(ulong pa, ulong sizeBytes)
    {
        ulong end = pa + sizeBytes;
        if (pa >= _ramLo && end <= _ramHi && end > pa)
            return _ramCached;
        IReadOnlyList<PhysicalRange> ram = Vm.Host.Memory.Ram;
        ulong gapLo = 0;
        for (int i = 0; i < ram.Count; i++)
        {
            PhysicalRange r = ram[i];
            if (pa < r.Base)
            {
                (_ramLo, _ramHi, _ramCached) = (gapLo, r.Base, false);
                return false;
            }
            if (pa < r.End)
            {
                (_ramLo, _ramHi, _ramCached) = (r.Base, r.End, true);
                return end <= r.End && end > pa;
            }
            gapLo = r.End;
        }
        (_ramLo, _ramHi, _ramCached) = (gapLo, ulong.MaxValue, false);
        return false;
    }

    private static string LeafText(in LeafEntry leaf, ulong pa) =>
        $"L{leaf.Level} leaf IPA [0x{leaf.Ipa:x}, 0x{leaf.Ipa + leaf.SizeBytes:x}) -> PA 0x{pa:x} ({leaf.Descriptor})";
}
