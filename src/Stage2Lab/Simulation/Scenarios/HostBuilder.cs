using Stage2Lab.Arch;
using Stage2Lab.Host;

namespace Stage2Lab.Simulation.Scenarios;

/// <summary>Builds the host of a scenario: RAM, device regions, and the VMM's VMAs (backing PAs allocated
/// deterministically from RAM where the scenario gives none). Refusals become scenario errors at the line of
/// the offending entry.</summary>
public static class HostBuilder
{
    public static HostAddressSpace Build(Scenario s)
    {
        var errors = new List<ScenarioError>();
        var memory = new PhysicalMemory();
        foreach (RangeSpec ram in s.Host.Ram)
            Report(errors, s, ram.Where, memory.AddRam(ram.Base, ram.SizeBytes, ram.Name));
        foreach (RangeSpec dev in s.Host.Devices)
            Report(errors, s, dev.Where, memory.AddDevice(dev.Name, dev.Base, dev.SizeBytes));
        var config = new HostPageTableConfig(s.Host.PageSize, s.Host.VaBits);
        var host = new HostAddressSpace(config, memory);
        var allocator = new RamAllocator(memory);
        foreach (VmaSpec spec in s.Mappings)
        {
            if (spec.Pa is { } fixedPa && spec.Kind != VmaKind.PfnMap)
                allocator.Reserve(fixedPa, spec.SizeBytes);
        }
        foreach (VmaSpec spec in s.Mappings)
        {
            Vma? vma = ToVma(s, spec, config, memory, allocator, errors);
            if (vma is null)
                continue;
            Report(errors, s, spec.Where, host.AddVma(vma));
            foreach (RemapPiece piece in spec.Pieces)
                Report(errors, s, spec.Where, host.Remap(piece.Hva, piece.SizeBytes, piece.Pa));
        }
        if (errors.Count > 0)
            throw new ScenarioException(errors);
        return host;
    }

    private static Vma? ToVma(Scenario s, VmaSpec spec, HostPageTableConfig config, PhysicalMemory memory, RamAllocator allocator, List<ScenarioError> errors)
    {
        VmFlags flags = VmFlags.Read | (spec.ReadOnly ? VmFlags.None : VmFlags.Write);
        switch (spec.Kind)
        {
            case VmaKind.Anonymous:
                {
                    bool thp = s.Host.Thp switch
                    {
                        ThpMode.Always => spec.Thp != false,
                        ThpMode.Madvise => spec.Thp == true,
                        _ => false,
                    };
                    if (spec.Thp == true)
                        flags |= VmFlags.HugePage;
                    if (spec.MixedMap)
                        flags |= VmFlags.MixedMap;
                    ulong pa = spec.Pa ?? Allocate(s, spec, allocator, thp ? config.PmdSize : config.PageSize, errors);
                    return new Vma { Start = spec.Start, End = spec.Start + spec.SizeBytes, Kind = VmaKind.Anonymous, BasePa = pa, Thp = thp, Flags = flags, Name = spec.Name };
                }
            case VmaKind.Hugetlb:
                {
                    ulong pa = spec.Pa ?? Allocate(s, spec, allocator, Math.Max(spec.HugePageSize, config.PageSize), errors);
                    return new Vma { Start = spec.Start, End = spec.Start + spec.SizeBytes, Kind = VmaKind.Hugetlb, BasePa = pa, HugePageSize = spec.HugePageSize, Flags = flags, Name = spec.Name };
                }
            default:
                {
                    ulong devicePa = 0;
                    if (spec.Device is { } name)
                    {
                        PhysicalRange region = memory.Devices.First(d => d.Name == name);
                        devicePa = region.Base + spec.DeviceOffset;
                        if (spec.DeviceOffset > region.SizeBytes || spec.SizeBytes > region.SizeBytes - spec.DeviceOffset)
                            errors.Add(At(s, spec.Where, $"mapping '{spec.Name}' ({SizeText.Format(spec.SizeBytes)} at offset 0x{spec.DeviceOffset:x}) runs past the end of device region '{name}' ({SizeText.Format(region.SizeBytes)})"));
                    }
                    else
                    {
                        devicePa = spec.PgOff!.Value << config.PageShift;
                    }
                    ulong pgoff = spec.PgOff ?? devicePa >> config.PageShift;
                    bool fileOffset = spec.VfioRegionIndex is not null;
                    if (fileOffset)
                    {
                        // vfio-pci: vm_pgoff is the file offset of the region (index << 40), not a PFN.
                        pgoff = (((ulong)spec.VfioRegionIndex!.Value << 40) + spec.DeviceOffset) >> config.PageShift;
                    }
                    flags |= VmFlags.Shared;
                    if (spec.UncachedOk)
                        flags |= VmFlags.AllowAnyUncached;
                    if (spec.MixedMap)
                        flags |= VmFlags.MixedMap;
                    var vma = new Vma
                    {
                        Start = spec.Start,
                        End = spec.Start + spec.SizeBytes,
                        Kind = VmaKind.PfnMap,
                        PgOff = pgoff,
                        HostPmd = spec.HostPmd,
                        Cacheable = spec.Cacheable,
                        PfnMapAtFirstFault = spec.FaultTimeRemap,
                        Flags = flags,
                        Name = spec.Name,
                    };
                    // The host maps the device, whatever vm_pgoff holds.
                    if (fileOffset || (pgoff << config.PageShift) != devicePa)
                        vma.Pieces.Add(new RemapPiece(spec.Start, spec.SizeBytes, devicePa));
                    return vma;
                }
        }
    }

    private static ulong Allocate(Scenario s, VmaSpec spec, RamAllocator allocator, ulong align, List<ScenarioError> errors)
    {
        if (allocator.TryAllocate(spec.SizeBytes, align, out ulong pa))
            return pa;
        errors.Add(At(s, spec.Where, $"no free RAM for mapping '{spec.Name}' ({SizeText.Format(spec.SizeBytes)}, {SizeText.Format(align)}-aligned): add RAM in host.ram or give the mapping a 'pa'"));
        return 0;
    }

    private static void Report(List<ScenarioError> errors, Scenario s, SourceSpan where, HostResult result)
    {
        if (!result.Succeeded)
            errors.Add(At(s, where, result.Message!));
    }

    private static ScenarioError At(Scenario s, SourceSpan where, string message) => new(s.SourceFile, where.Line, where.Column, where.Path, message);
}
