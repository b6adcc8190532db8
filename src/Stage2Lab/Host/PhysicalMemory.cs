using Stage2Lab.Arch;
namespace Stage2Lab.Host;

/// <summary>A named range of host physical address space.</summary>
public readonly record struct PhysicalRange(string Name, ulong Base, ulong SizeBytes)
{
    public ulong End => Base + SizeBytes;

    public bool Contains(ulong pa) => pa >= Base && pa - Base < SizeBytes;

    public bool Overlaps(ulong start, ulong end) => start < End && Base < end;
}

/// <summary>
/// The host's physical memory: RAM ranges (pages with a struct page: pfn_is_map_memory) and named device
/// regions such as PCI BARs. Anything that is not RAM is device memory to KVM (kvm_is_device_pfn).
/// </summary>
public sealed class PhysicalMemory
{
    private readonly List<PhysicalRange> _ram = new();
    private readonly List<PhysicalRange> _devices = new();
    private ulong[] _ramStarts = [];
    private ulong[] _ramEnds = [];

    public IReadOnlyList<PhysicalRange> Ram => _ram;

    public IReadOnlyList<PhysicalRange> Devices => _devices;

    /// <summary>Adds a RAM range; refuses an empty one or one overlapping RAM or a device region.</summary>
    public HostResult AddRam(ulong basePa, ulong sizeBytes, string name = "ram")
    {
        if (sizeBytes == 0)
            return HostResult.Fail(Arch.Errno.EINVAL, $"RAM range '{name}' at 0x{basePa:x} is empty");
        if (basePa + sizeBytes < basePa)
            return HostResult.Fail(Arch.Errno.EINVAL, $"RAM range '{name}' at 0x{basePa:x} size 0x{sizeBytes:x} wraps the address space");
        foreach (PhysicalRange r in _ram)
        {
            if (r.Overlaps(basePa, basePa + sizeBytes))
                return HostResult.Fail(Arch.Errno.EEXIST, $"RAM range '{name}' [0x{basePa:x}, 0x{basePa + sizeBytes:x}) overlaps RAM '{r.Name}' [0x{r.Base:x}, 0x{r.End:x})");
        }
        foreach (PhysicalRange d in _devices)
        {
            if (d.Overlaps(basePa, basePa + sizeBytes))
                return HostResult.Fail(Arch.Errno.EEXIST, $"RAM range '{name}' [0x{basePa:x}, 0x{basePa + sizeBytes:x}) overlaps device region '{d.Name}' [0x{d.Base:x}, 0x{d.End:x})");
        }
        _ram.Add(new PhysicalRange(name, basePa, sizeBytes));
        _ram.Sort((a, b) => a.Base.CompareTo(b.Base));
        _ramStarts = new ulong[_ram.Count];
        _ramEnds = new ulong[_ram.Count];
        for (int i = 0; i < _ram.Count; i++)
            (_ramStarts[i], _ramEnds[i]) = (_ram[i].Base, _ram[i].End);
        return HostResult.Ok;
    }

    /// <summary>Adds a named device region (a BAR); it may not overlap RAM or another device region.</summary>
    public HostResult AddDevice(string name, ulong basePa, ulong sizeBytes)
    {
        if (sizeBytes == 0)
            return HostResult.Fail(Arch.Errno.EINVAL, $"device region '{name}' at 0x{basePa:x} is empty");
        foreach (PhysicalRange r in _ram)
        {
            if (r.Overlaps(basePa, basePa + sizeBytes))
                return HostResult.Fail(Arch.Errno.EEXIST, $"device region '{name}' [0x{basePa:x}, 0x{basePa + sizeBytes:x}) overlaps RAM '{r.Name}' [0x{r.Base:x}, 0x{r.End:x})");
        }
        foreach (PhysicalRange d in _devices)
        {
            if (d.Overlaps(basePa, basePa + sizeBytes))
                return HostResult.Fail(Arch.Errno.EEXIST, $"device region '{name}' overlaps device region '{d.Name}'");
        }
        _devices.Add(new PhysicalRange(name, basePa, sizeBytes));
        _devices.Sort((a, b) => a.Base.CompareTo(b.Base));
        return HostResult.Ok;
    }

    /// <summary>pfn_is_map_memory: the page is RAM the kernel maps (has a struct page).</summary>
    public bool IsRam(ulong pa)
    {
        int i = SortedStarts.LastAtOrBelow(_ramStarts, pa);
        return i >= 0 && pa < _ramEnds[i];
    }

}
