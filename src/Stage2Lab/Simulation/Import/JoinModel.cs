using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Import;

/// <summary>A host BAR as the join knows it: from lspci, iomem, vfio_region_setup or a VMA's PFN offset.</summary>
internal sealed class HostBar
{
    /// <summary>The PCI address, or a made-up name (`vfio0`, `bar`) when no record names the device.</summary>
    public required string Device { get; set; }

    /// <summary>No record names the device (a VMA's file offset or PFN only): an mtree row may name it later.</summary>
    public bool Unnamed => !Bdf.IsBdf(Device) && Device != LspciParser.UnnamedDevice;

    public int? Index { get; set; }

    public ulong? Pa { get; set; }

    public ulong? SizeBytes { get; set; }

    /// <summary>No record gives the BAR's size: it is the smallest power of two holding its mmaps (BARs are powers of two).</summary>
    public bool SizeAssumed { get; set; }

    /// <summary>vfio_region_setup: the region's offset in the device fd (VFIO_PCI_INDEX_TO_OFFSET).</summary>
    public ulong? FileOffset { get; set; }

    public List<SourceRef> Sources { get; } = new();

    public List<string> Assumed { get; } = new();

    /// <summary>iomem shows vfio-pci claiming it (a `vfio-pci` line nested under the BAR).</summary>
    public bool VfioClaimed { get; set; }

    /// <summary>The scenario's device region, once the BAR backs a mapping.</summary>
    public RangeSpec? Spec { get; set; }

    public string Label => Index is { } i ? $"{Device}-bar{i}" : Pa is { } pa ? $"{Device}-{pa:x}" : Device;
}

/// <summary>Where a vfio-pci BAR mmap lands in its BAR.</summary>
internal sealed record VfioPlacement(HostBar Bar, ulong OffsetInBar, bool FileOffsetForm);

/// <summary>A memslot as the join builds it, before it becomes a <see cref="MemslotSpec"/>.</summary>
internal sealed class GuestSlot
{
    public int? Id { get; set; }

    public ulong Ipa { get; set; }

    public ulong SizeBytes { get; set; }

    public ulong? Hva { get; set; }

    public MemslotFlags Flags { get; set; }

    public List<SourceRef> Sources { get; } = new();

    public List<string> Assumed { get; } = new();

    /// <summary>The mtree row or VMA says this slot is a VFIO BAR mmap.</summary>
    public (string Device, int Bar, int MmapIndex)? VfioBar { get; set; }

    /// <summary>The mtree name of the RAM block (pc.ram, mach-virt.ram), for messages.</summary>
    public string? RegionName { get; set; }

    /// <summary>The BAR the slot maps (host-side import, or an mtree/trace hint), and where in it the slot starts.</summary>
    public HostBar? Bar { get; set; }

    public ulong BarOffset { get; set; }

    public ulong End => Ipa + SizeBytes;
}
