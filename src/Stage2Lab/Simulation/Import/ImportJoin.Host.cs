using Stage2Lab.Arch;

namespace Stage2Lab.Simulation.Import;

internal sealed partial class ImportJoin
{
    /// <summary>drivers/vfio/pci: VFIO_PCI_OFFSET_SHIFT, the region index sits above bit 40 of a device fd offset.</summary>
    private const int VfioOffsetShift = 40;

    private const ulong VfioOffsetMask = (1UL << VfioOffsetShift) - 1;

    /// <summary>VFIO_PCI_BAR5_REGION_INDEX: regions 0..5 are the BARs (6 is the ROM, 7 config space, 8 VGA).</summary>
    private const int LastBarIndex = 5;

    /// <summary>BARs from lspci, iomem and vfio_region_setup, checked against each other.</summary>
    private void CollectBars()
    {
        foreach (PciBarRecord b in _r.PciBars)
        {
            HostBar? known = _bars.Find(x => x.Device == b.Device && x.Index == b.Index);
            if (known is not null)
            {
                if (known.Pa != b.Pa || known.SizeBytes != b.SizeBytes)
                    Contradiction(b.Where, known.Sources[0], $"BAR {b.Index} of {b.Device} is {SizeText.Format(b.SizeBytes)} at 0x{b.Pa:x} in one and {SizeText.Format(known.SizeBytes ?? 0)} at 0x{known.Pa ?? 0:x} in the other");
                continue;
            }
            var bar = new HostBar { Device = b.Device, Index = b.Index, Pa = b.Pa, SizeBytes = b.SizeBytes };
            bar.Sources.Add(b.Where);
            if (b.IndexInferred)
            {
                bar.Assumed.Add($"BAR index {b.Index} counted from the order of `lspci -v` (which prints no index; an empty BAR slot before it would shift it)");
                Assume(AssumptionKind.BarIndex, $"{b.Device} BAR at 0x{b.Pa:x}", $"index {b.Index}, counted in the order lspci -v prints the BARs (lspci -vv prints it)", b.Where);
            }
            _bars.Add(bar);
        }
        if (_r.PciDevicesWithoutDomain && _r.PciBars.Count > 0)
            Assume(AssumptionKind.DevicePa, "lspci", "the devices are in PCI domain 0000 (lspci printed no domain)", _r.PciBars[0].Where);
        CollectIomemBars();
        foreach (VfioRegionRecord region in _r.VfioRegions.Where(r => r.Index <= LastBarIndex && r.SizeBytes > 0))
        {
            HostBar? bar = _bars.Find(x => x.Device == region.Device && x.Index == region.Index);
            if (bar is null)
            {
                bar = new HostBar { Device = region.Device, Index = region.Index, SizeBytes = region.SizeBytes };
                _bars.Add(bar);
            }
            else if (bar.SizeBytes is { } size && size != region.SizeBytes)
            {
                Contradiction(bar.Sources[0], region.Where, $"BAR {region.Index} of {region.Device} is {SizeText.Format(size)} on the host but QEMU's vfio region is {SizeText.Format(region.SizeBytes)}");
                continue;
            }
            bar.SizeBytes ??= region.SizeBytes;
            bar.FileOffset = region.FileOffset;
            bar.Sources.Add(region.Where);
        }
        CheckMmapsFitBars();
        foreach (VfioMmapRecord mmap in _r.VfioMmaps.Where(m => m.Bar <= LastBarIndex))
        {
            HostBar? bar = _bars.Find(x => x.Device == mmap.Device && x.Index == mmap.Bar);
            if (bar is null)
            {
                bar = new HostBar { Device = mmap.Device, Index = mmap.Bar, SizeBytes = PowerOfTwoAtLeast(mmap.EndInclusive + 1), SizeAssumed = true };
                _bars.Add(bar);
            }
            else if (bar.SizeAssumed)
            {
                bar.SizeBytes = Math.Max(bar.SizeBytes ?? 0, PowerOfTwoAtLeast(mmap.EndInclusive + 1));
            }
            bar.Sources.Add(mmap.Where);
        }
    }

    /// <summary>iomem names a BAR by its device (`0000:01:00.0`, newer kernels add ` (driver)`), not by its index.</summary>
    private void CollectIomemBars()
    {
        foreach (IomemRow row in _r.Iomem)
        {
            string name = row.Name;
            int paren = name.IndexOf(" (", StringComparison.Ordinal);
            string device = Bdf.Normalize(paren > 0 ? name[..paren] : name);
            if (!Bdf.IsBdf(paren > 0 ? name[..paren] : name))
                continue;
            HostBar? samePa = _bars.Find(x => x.Device == device && x.Pa == row.Start);
            if (samePa is not null)
            {
                if (samePa.SizeBytes is { } size && size != row.SizeBytes)
                    Contradiction(samePa.Sources[0], row.Where, $"the BAR of {device} at 0x{row.Start:x} is {SizeText.Format(size)} in one and {SizeText.Format(row.SizeBytes)} in the other");
                else
                    samePa.Sources.Add(row.Where);
                continue;
            }
            if (_bars.Exists(x => x.Device == device && x.Pa is { } pa && row.Start >= pa && row.Start < pa + (x.SizeBytes ?? 0)))
                continue;
            var bar = new HostBar { Device = device, Pa = row.Start, SizeBytes = row.SizeBytes };
            bar.Sources.Add(row.Where);
            bar.VfioClaimed = _r.Iomem.Exists(c => c.Depth > row.Depth && c.Start >= row.Start && c.EndInclusive <= row.EndInclusive && c.Name == "vfio-pci");
            _bars.Add(bar);
        }
    }

    /// <summary>A vfio_region_mmap runs past its BAR: the host's BAR size and QEMU's mmap disagree.</summary>
    private void CheckMmapsFitBars()
    {
        foreach (VfioMmapRecord mmap in _r.VfioMmaps)
        {
            HostBar? bar = _bars.Find(x => x.Device == mmap.Device && x.Index == mmap.Bar);
            if (bar?.SizeBytes is { } size && mmap.EndInclusive >= size)
                Contradiction(bar.Sources[0], mmap.Where, $"BAR {mmap.Bar} of {mmap.Device} is {SizeText.Format(size)} but QEMU mmaps it up to 0x{mmap.EndInclusive:x}");
        }
    }

    /// <summary>
    /// Where each vfio-pci BAR mmap lands: its offset is `(region index &lt;&lt; 40) + offset` on current kernels
    /// (VFIO_PCI_OFFSET_SHIFT), but the BAR's PFN on older ones (vfio_pci_mmap set vm_pgoff to
    /// pci_resource_start &gt;&gt; PAGE_SHIFT before mapping at fault time). Both are recognised.
    /// </summary>
    private void PlaceVfioVmas()
    {
        int unknown = 0;
        foreach (VmaRecord v in _vmas.Where(v => _roles[v] == VmaRole.Vfio).OrderBy(v => v.OffsetBytes).ThenBy(v => v.Start))
        {
            VfioPlacement? placed = ByFileOffset(v) ?? ByPa(v) ?? ByIndex(v);
            if (placed is null)
            {
                ulong index = v.OffsetBytes >> VfioOffsetShift;
                if (index <= LastBarIndex)
                {
                    // A file offset, but of no BAR any record names: an unknown device's BAR.
                    var bar = new HostBar { Device = $"vfio{unknown++}", Index = (int)index, SizeBytes = PowerOfTwoAtLeast((v.OffsetBytes & VfioOffsetMask) + v.SizeBytes), SizeAssumed = true };
                    bar.Sources.Add(v.Where);
                    _bars.Add(bar);
                    placed = new VfioPlacement(bar, v.OffsetBytes & VfioOffsetMask, FileOffsetForm: true);
                    Assume(AssumptionKind.DevicePa, $"VMA {v.Start:x}-{v.End:x}", $"a BAR {index} mmap of a device no lspci, iomem or vfio trace names (called {bar.Device}); offset 0x{v.OffsetBytes:x} read as (region {index} << 40) + 0x{v.OffsetBytes & VfioOffsetMask:x}", v.Where);
                }
                else
                {
                    // A PFN: an older kernel's vm_pgoff, so the offset is the BAR's physical address.
                    var bar = new HostBar { Device = "bar", Pa = v.OffsetBytes, SizeBytes = PowerOfTwoAtLeast(v.SizeBytes), SizeAssumed = true };
                    bar.Sources.Add(v.Where);
                    _bars.Add(bar);
                    placed = new VfioPlacement(bar, 0, FileOffsetForm: false);
                }
            }
            _vfio[v] = placed;
        }
    }

    /// <summary>vfio_region_setup gave the region's fd offset: the VMA's offset falls inside exactly one region.</summary>
    private VfioPlacement? ByFileOffset(VmaRecord v)
    {
        HostBar? bar = _bars.Find(b => b.FileOffset is { } off && v.OffsetBytes >= off && v.OffsetBytes < off + (b.SizeBytes ?? 0));
        if (bar is null)
            return null;
        ulong inBar = v.OffsetBytes - bar.FileOffset!.Value;
        if (inBar + v.SizeBytes > bar.SizeBytes!.Value)
            Contradiction(v.Where, bar.Sources[^1], $"the mmap at offset 0x{v.OffsetBytes:x} ({SizeText.Format(v.SizeBytes)}) runs past BAR {bar.Index} of {bar.Device} ({SizeText.Format(bar.SizeBytes.Value)})");
        return new VfioPlacement(bar, inBar, FileOffsetForm: true);
    }

    /// <summary>The offset is a known BAR's physical address (an older kernel's PFN).</summary>
    private VfioPlacement? ByPa(VmaRecord v)
    {
        HostBar? bar = _bars.Find(b => b.Pa is { } pa && b.SizeBytes is { } size && v.OffsetBytes >= pa && v.OffsetBytes < pa + size);
        if (bar is null)
            return null;
        ulong inBar = v.OffsetBytes - bar.Pa!.Value;
        if (bar.SizeAssumed)
            bar.SizeBytes = Math.Max(bar.SizeBytes!.Value, PowerOfTwoAtLeast(inBar + v.SizeBytes));
        else if (inBar + v.SizeBytes > bar.SizeBytes!.Value)
            Contradiction(v.Where, bar.Sources[0], $"the mmap of {SizeText.Format(v.SizeBytes)} at PA 0x{v.OffsetBytes:x} runs past the {SizeText.Format(bar.SizeBytes.Value)} BAR of {bar.Device} at 0x{bar.Pa:x}");
        return new VfioPlacement(bar, inBar, FileOffsetForm: false);
    }

    /// <summary>
    /// A file offset `(index &lt;&lt; 40) + offset` matched to the one known BAR with that index that can hold it
    /// (by size when several devices have one; the host's BAR size must hold the mmap).
    /// </summary>
    private VfioPlacement? ByIndex(VmaRecord v)
    {
        ulong index = v.OffsetBytes >> VfioOffsetShift;
        if (index > LastBarIndex)
            return null;
        ulong inBar = v.OffsetBytes & VfioOffsetMask;
        var candidates = _bars.Where(b => b.Index == (int)index && b.FileOffset is null).ToList();
        if (candidates.Count == 0)
            return null;
        var fitting = candidates.Where(b => b.SizeAssumed || b.SizeBytes is not { } s || inBar + v.SizeBytes <= s).ToList();
        if (fitting.Count == 0)
        {
            HostBar bar = candidates[0];
            Contradiction(bar.Sources[0], v.Where, $"BAR {index} of {bar.Device} is {SizeText.Format(bar.SizeBytes ?? 0)} but the VMM mmaps {SizeText.Format(v.SizeBytes)} of it at offset 0x{inBar:x}");
            return new VfioPlacement(bar, inBar, FileOffsetForm: true);
        }
        var exact = fitting.Where(b => b.SizeBytes == inBar + v.SizeBytes || (inBar == 0 && b.SizeBytes == v.SizeBytes)).ToList();
        List<HostBar> pick = exact.Count > 0 ? exact : fitting;
        HostBar chosen = pick.FirstOrDefault(b => !_vfio.Values.Any(p => ReferenceEquals(p.Bar, b) && p.OffsetInBar == inBar)) ?? pick[0];
        if (chosen.SizeAssumed)
            chosen.SizeBytes = Math.Max(chosen.SizeBytes ?? 0, PowerOfTwoAtLeast(inBar + v.SizeBytes));
        if (pick.Count > 1)
            Assume(AssumptionKind.VfioOffsetForm, $"VMA {v.Start:x}-{v.End:x}", $"BAR {index} of {chosen.Device}: {pick.Count} devices have a BAR {index} that fits this mmap; taken in order", v.Where);
        return new VfioPlacement(chosen, inBar, FileOffsetForm: true);
    }

    private static ulong PowerOfTwoAtLeast(ulong value) => value <= 1 ? 1 : 1UL << (64 - System.Numerics.BitOperations.LeadingZeroCount(value - 1));
}
