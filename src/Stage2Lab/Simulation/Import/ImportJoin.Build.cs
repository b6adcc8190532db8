using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Scenarios;
using Stage2Lab.Simulation.Workloads;

namespace Stage2Lab.Simulation.Import;

internal sealed partial class ImportJoin
{
    /// <summary>Where assumed HVAs are looked for first (the examples' VMM mapping area).</summary>
    private const ulong AssumedHvaBase = 0x7f00_0000_0000;

    /// <summary>An assumed host RAM range starts at or above 2 GiB (the examples' DRAM base on arm64 boards).</summary>
    private const ulong AssumedRamBase = 0x8000_0000;

    private const int DefaultIpaBits = 40;

    private const int DefaultVaBits = 48;

    private const int WideVaBits = 52;

    private readonly Dictionary<VmaRecord, VmaSpec> _mappingOf = new(ReferenceEqualityComparer.Instance);
    private readonly List<(ulong Start, ulong End)> _usedHva = new();

    private void BuildScenario()
    {
        _s.Name = _options.Name;
        _s.Description = "imported by s2lab import from " + string.Join(", ", _r.Inputs.Select(i => Path.GetFileName(i.File)));
        _s.SourceFile = _options.Name + ".yaml";
        _s.Host.PageSize = _granule;
        foreach (VmaRecord v in _vmas)
            _usedHva.Add((v.Start, v.End));
        foreach (GuestSlot slot in _slots)
            BackSlot(slot);
        _s.Mappings.Sort((a, b) => a.Start.CompareTo(b.Start));
        ChooseThp();
        PlaceDevices();
        HostRamAndBackingPas();
        Memslots();
        Timeline();
    }

    /// <summary>The VMAs behind a memslot: the records' VMAs over its HVA range, assumed ones where none is known.</summary>
    private void BackSlot(GuestSlot slot)
    {
        if (slot.Hva is null)
        {
            slot.Hva = AssumedMapping(slot);
            return;
        }
        ulong hva = slot.Hva.Value, end = hva + slot.SizeBytes;
        foreach (VmaRecord v in _vmas.Where(v => v.Start < end && hva < v.End))
        {
            if (_roles[v] == VmaRole.Other)
                slot.Assumed.Add($"backed by the file mapping at {v.Where} ('{v.Path}'), modelled as anonymous memory");
            Mapping(v);
            slot.Sources.Add(v.Where);
        }
        ulong cursor = hva;
        foreach (VmaRecord v in _vmas.Where(v => v.Start < end && hva < v.End).OrderBy(v => v.Start).Append(null!))
        {
            ulong gapEnd = v is null ? end : Math.Max(cursor, v.Start);
            if (gapEnd > cursor && !_s.Mappings.Exists(m => m.Start < gapEnd && cursor < m.Start + m.SizeBytes))
                FillerMapping(slot, cursor, gapEnd - cursor);
            if (v is not null)
                cursor = Math.Max(cursor, v.End);
        }
    }

    private VmaSpec Mapping(VmaRecord v)
    {
        if (_mappingOf.TryGetValue(v, out VmaSpec? known))
            return known;
        VmaRole role = _roles[v];
        var spec = new VmaSpec { Start = v.Start, SizeBytes = v.SizeBytes, ReadOnly = !v.Writable };
        _prov.Source(spec, v.Where);
        if (v.VmFlagsWhere is { } fw)
            _prov.Source(spec, fw);
        switch (role)
        {
            case VmaRole.Vfio:
                {
                    VfioPlacement p = _vfio[v];
                    spec.Kind = VmaKind.PfnMap;
                    spec.Device = Device(p.Bar).Name;
                    spec.DeviceOffset = p.OffsetInBar;
                    if (p.FileOffsetForm)
                        spec.VfioRegionIndex = p.Bar.Index;
                    spec.Name = UniqueName(p.Bar.Label + (p.OffsetInBar != 0 ? $"-at-{p.OffsetInBar:x}" : ""));
                    _prov.Source(spec, p.Bar.Sources);
                    if (!p.FileOffsetForm)
                        _prov.For(spec).Assumed.Add("vm_pgoff is the BAR's PFN (the offset column is its physical address, as older vfio-pci kernels set it)");
                    break;
                }
            case VmaRole.PfnMap:
                spec.Kind = VmaKind.PfnMap;
                spec.PgOff = v.OffsetBytes >> _granule.PageShift;
                spec.Name = UniqueName($"pfnmap-{v.Start:x}");
                break;
            case VmaRole.Hugetlb when HugetlbSize(v, spec) is { } huge:
                spec.Kind = VmaKind.Hugetlb;
                spec.HugePageSize = huge;
                spec.Name = UniqueName($"hugetlb-{v.Start:x}");
                if (v.KernelPageSizeWhere is { } kw)
                    _prov.Source(spec, kw);
                break;
            default:
                spec.Kind = VmaKind.Anonymous;
                spec.Name = UniqueName($"ram-{v.Start:x}");
                if (v.HasFlag("hg"))
                    spec.Thp = true;
                else if (v.HasFlag("nh"))
                    spec.Thp = false;
                if (role == VmaRole.Shmem)
                {
                    spec.Thp = false;
                    _prov.Assume(spec, "shmem memory: no THP (shmem_enabled is 'never' by default; smaps would show ShmemPmdMapped)");
                }
                break;
        }
        _mappingOf[v] = spec;
        _s.Mappings.Add(spec);
        return spec;
    }

    /// <summary>A hugetlbfs VMA's page size: smaps KernelPageSize, a size in the path, else the PMD size (assumed).</summary>
    private ulong? HugetlbSize(VmaRecord v, VmaSpec spec)
    {
        ulong? size = HugePageSize(v);
        if (size is null)
        {
            size = _config.PmdSize;
            _prov.Assume(spec, $"huge page size {SizeText.Format(size.Value)} (the default hugepagesz; no KernelPageSize or size in the path)");
        }
        if (!_config.IsHugetlbSize(size.Value) || v.Start % size.Value != 0 || v.SizeBytes % size.Value != 0)
        {
            _r.Skipped.Add(new(v.Where, $"a hugetlbfs VMA that is no multiple of its {SizeText.Format(size.Value)} pages under a {_granule.Name} host: modelled as anonymous memory"));
            return null;
        }
        return size;
    }

    /// <summary>A VMA no record shows, over [hva, hva+size) of a memslot.</summary>
    private void FillerMapping(GuestSlot slot, ulong hva, ulong size)
    {
        if (BarOf(slot) is { } bar)
        {
            ulong mmapOffset = slot.VfioBar is { } vb ? _r.VfioMmaps.Find(m => m.Device == vb.Device && m.Bar == vb.Bar && m.MmapIndex == vb.MmapIndex)?.Offset ?? 0 : 0;
            var pfn = new VmaSpec { Kind = VmaKind.PfnMap, Start = hva, SizeBytes = size, Device = Device(bar).Name, DeviceOffset = mmapOffset + slot.BarOffset + (hva - slot.Hva!.Value), Name = UniqueName(bar.Label) };
            _prov.Source(pfn, slot.Sources);
            _prov.Assume(pfn, $"the VMM's mmap of {bar.Label} (no VMA record shows it; its HVA is the memslot's)");
            _s.Mappings.Add(pfn);
            _usedHva.Add((hva, hva + size));
            Assume(AssumptionKind.Backing, pfn.Name, $"a pfnmap of {bar.Label} at HVA 0x{hva:x}: no VMA record shows the mmap", slot.Sources.FirstOrDefault());
            return;
        }
        var spec = new VmaSpec { Kind = VmaKind.Anonymous, Start = hva, SizeBytes = size, Name = UniqueName($"assumed-{hva:x}") };
        _prov.Source(spec, slot.Sources.Take(1));
        _prov.Assume(spec, "no VMA record covers this part of the memslot's HVA range (no maps/smaps/pmap, or lines left out): anonymous memory");
        _s.Mappings.Add(spec);
        _usedHva.Add((hva, hva + size));
        Assume(AssumptionKind.Backing, $"HVA 0x{hva:x}", $"{SizeText.Format(size)} of memslot HVA space with no VMA record, taken as anonymous memory", slot.Sources.FirstOrDefault());
    }

    /// <summary>A memslot whose HVA no record gives: a mapping at an assumed HVA (a BAR's pfnmap, or anonymous memory).</summary>
    private ulong AssumedMapping(GuestSlot slot)
    {
        HostBar? bar = BarOf(slot);
        ulong align = bar is not null ? Math.Min(PowerOfTwoAtLeast(slot.SizeBytes), GiB) : slot.SizeBytes >= GiB ? GiB : _config.PmdSize;
        ulong hva = FreeHva(slot.SizeBytes, align);
        var spec = new VmaSpec { Start = hva, SizeBytes = slot.SizeBytes, ReadOnly = (slot.Flags & MemslotFlags.ReadOnly) != 0 };
        if (bar is not null)
        {
            spec.Kind = VmaKind.PfnMap;
            spec.Device = Device(bar).Name;
            spec.DeviceOffset = slot.BarOffset;
            spec.Name = UniqueName(bar.Label);
            _prov.Source(spec, bar.Sources);
            _prov.Assume(spec, $"the VMM's mmap of {bar.Label} at HVA 0x{hva:x}, aligned to {SizeText.Format(align)} as QEMU 9.2+ aligns VFIO BAR mmaps; no VMA record shows it");
        }
        else
        {
            spec.Kind = VmaKind.Anonymous;
            spec.Name = UniqueName($"assumed-{hva:x}");
            _prov.Source(spec, slot.Sources.Take(1));
            _prov.Assume(spec, $"the memslot's backing ({slot.RegionName ?? "RAM"}) as anonymous memory at HVA 0x{hva:x}; no VMA record matches it");
        }
        _s.Mappings.Add(spec);
        Assume(AssumptionKind.Backing, spec.Name, $"HVA 0x{hva:x} and kind {(bar is null ? "anon" : "pfnmap")}: no record gives the VMA behind memslot at IPA 0x{slot.Ipa:x}", slot.Sources.FirstOrDefault());
        return hva;
    }

    /// <summary>The BAR a memslot maps, from lspci/iomem/vfio records or, for an mtree row naming one, assumed.</summary>
    private HostBar? BarOf(GuestSlot slot)
    {
        if (slot.Bar is not null)
            return slot.Bar;
        if (slot.VfioBar is not { } vb)
            return null;
        HostBar? bar = _bars.Find(b => b.Device == vb.Device && b.Index == vb.Bar);
        if (bar is null)
        {
            ulong extent = slot.BarOffset + slot.SizeBytes;
            bar = new HostBar { Device = vb.Device, Index = vb.Bar, SizeBytes = PowerOfTwoAtLeast(extent), SizeAssumed = true };
            bar.Sources.AddRange(slot.Sources.Take(1));
            _bars.Add(bar);
        }
        slot.Bar = bar;
        return bar;
    }

    private ulong FreeHva(ulong size, ulong align)
    {
        ulong limit = 1UL << DefaultVaBits;
        foreach (ulong start in new[] { AssumedHvaBase, 1UL << 32 })
        {
            ulong candidate = AlignUp(start, align);
            while (candidate + size <= limit)
            {
                var clash = _usedHva.Where(u => u.Start < candidate + size && candidate < u.End).ToList();
                if (clash.Count == 0)
                {
                    _usedHva.Add((candidate, candidate + size));
                    return candidate;
                }
                candidate = AlignUp(clash.Max(c => c.End), align);
            }
        }
        throw new ImportException($"no room below 2^{DefaultVaBits} for an assumed {SizeText.Format(size)} mapping");
    }

    private RangeSpec Device(HostBar bar)
    {
        if (bar.Spec is not null)
            return bar.Spec;
        bar.Spec = new RangeSpec { Name = bar.Label, Base = bar.Pa ?? 0, SizeBytes = bar.SizeBytes ?? 0 };
        _prov.Source(bar.Spec, bar.Sources);
        foreach (string a in bar.Assumed)
            _prov.Assume(bar.Spec, a);
        _s.Host.Devices.Add(bar.Spec);
        return bar.Spec;
    }

    private string UniqueName(string name)
    {
        string candidate = name;
        for (int n = 2; _s.Mappings.Exists(m => m.Name == candidate); n++)
            candidate = $"{name}-{n}";
        return candidate;
    }

    /// <summary>transparent_hugepage/enabled from THPeligible and AnonHugePages of the anonymous guest RAM VMAs.</summary>
    private void ChooseThp()
    {
        var anon = _mappingOf.Where(p => _roles[p.Key] == VmaRole.Anonymous).Select(p => p.Key).ToList();
        VmaRecord? always = anon.Find(v => !v.HasFlag("hg") && (v.ThpEligible == true || v.AnonHugePagesBytes > 0));
        VmaRecord? never = anon.Find(v => v.HasFlag("hg") && v.ThpEligible == false);
        VmaRecord? madvise = anon.Find(v => v.HasFlag("hg") && (v.ThpEligible == true || v.AnonHugePagesBytes > 0));
        if (always is not null)
        {
            _s.Host.Thp = ThpMode.Always;
            _facts.Add($"host.thp always: THP on a VMA without MADV_HUGEPAGE ({always.Where})");
        }
        else if (never is not null)
        {
            _s.Host.Thp = ThpMode.Never;
            _facts.Add($"host.thp never: a MADV_HUGEPAGE VMA not THP-eligible ({never.Where})");
        }
        else if (madvise is not null)
        {
            _s.Host.Thp = ThpMode.Madvise;
            _facts.Add($"host.thp madvise: THP on MADV_HUGEPAGE VMAs ({madvise.Where}); 'always' would map them the same");
        }
        else
        {
            _s.Host.Thp = ThpMode.Madvise;
            if (anon.Count > 0)
                Assume(AssumptionKind.HostThp, "host.thp", "madvise (a common distribution default; QEMU madvises guest RAM MADV_HUGEPAGE): no THPeligible or AnonHugePages in the records");
        }
    }

    /// <summary>BARs whose physical address no record gives go above everything known, aligned to their size.</summary>
    private void PlaceDevices()
    {
        ulong top = VirtHighMmioBase;
        foreach (IomemRow row in _r.Iomem)
            top = Math.Max(top, row.EndInclusive + 1);
        foreach (HostBar bar in _bars.Where(b => b.Pa is not null && b.SizeBytes is not null))
            top = Math.Max(top, bar.Pa!.Value + bar.SizeBytes!.Value);
        var fromPfn = _bars.Where(b => b.Spec is not null && b.Pa is not null && b.SizeAssumed).ToList();
        foreach (HostBar bar in _bars.Where(b => b.Spec is not null && b.Pa is null))
        {
            ulong size = bar.SizeBytes ?? PowerOfTwoAtLeast(_s.Mappings.Where(m => m.Device == bar.Spec!.Name).Max(m => m.DeviceOffset + m.SizeBytes));
            if (bar.SizeBytes is null || bar.SizeAssumed)
            {
                bar.Spec!.SizeBytes = size = PowerOfTwoAtLeast(Math.Max(size, _s.Mappings.Where(m => m.Device == bar.Spec.Name).Max(m => m.DeviceOffset + m.SizeBytes)));
                _prov.Assume(bar.Spec, $"size {SizeText.Format(size)}: the smallest power of two holding its mmaps (no lspci, iomem or vfio trace gives it)");
            }
            ulong pa = AlignUp(top, size);
            top = pa + size;
            bar.Pa = pa;
            bar.Spec!.Base = pa;
            _prov.Assume(bar.Spec, $"PA 0x{pa:x}: no lspci or iomem gives it and the mmap offset is a file offset; placed aligned to its size, as the PCI core assigns BARs");
            Assume(AssumptionKind.DevicePa, bar.Label, $"PA 0x{pa:x}, size {SizeText.Format(size)}: no record gives the BAR's physical address", bar.Sources.FirstOrDefault());
        }
        foreach (HostBar bar in fromPfn)
        {
            ulong need = PowerOfTwoAtLeast(_s.Mappings.Where(m => m.Device == bar.Spec!.Name).Max(m => m.DeviceOffset + m.SizeBytes));
            bar.Spec!.SizeBytes = Math.Max(bar.Spec.SizeBytes, need);
            _prov.Assume(bar.Spec, $"size {SizeText.Format(bar.Spec.SizeBytes)}: the smallest power of two holding its mmaps (no lspci or iomem gives it); PA from the mmap's offset (vm_pgoff = PFN)");
            Assume(AssumptionKind.DevicePa, bar.Label, $"size {SizeText.Format(bar.Spec.SizeBytes)}: no record gives the BAR's size", bar.Sources.FirstOrDefault());
        }
        var devices = _s.Host.Devices.OrderBy(d => d.Base).ToList();
        for (int i = 1; i < devices.Count; i++)
        {
            if (devices[i].Base < devices[i - 1].Base + devices[i - 1].SizeBytes)
            {
                SourceRef a = _prov.For(devices[i - 1]).Sources.FirstOrDefault(), b = _prov.For(devices[i]).Sources.FirstOrDefault();
                Contradiction(b, a, $"device regions {devices[i - 1].Name} [0x{devices[i - 1].Base:x}, +{SizeText.Format(devices[i - 1].SizeBytes)}) and {devices[i].Name} at 0x{devices[i].Base:x} overlap");
            }
        }
    }
}
