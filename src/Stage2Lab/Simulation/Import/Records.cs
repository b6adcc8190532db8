namespace Stage2Lab.Simulation.Import;

/// <summary>One VMA of the VMM, from a maps/smaps header (with the smaps fields after it) or a pmap -X row.</summary>
public sealed class VmaRecord
{
    public required ulong Start { get; init; }

    /// <summary>Exclusive end, as maps prints it.</summary>
    public required ulong End { get; set; }

    /// <summary>rwxp / rwxs.</summary>
    public required string Perms { get; init; }

    /// <summary>The offset column: vm_pgoff &lt;&lt; PAGE_SHIFT (a file offset, or for a PFN mapping the PA).</summary>
    public required ulong OffsetBytes { get; init; }

    public required string Device { get; init; }

    public required ulong Inode { get; init; }

    /// <summary>Path or pseudo-name (`[heap]`, `anon_inode:[vfio-device]`); empty for anonymous memory.</summary>
    public required string Path { get; set; }

    public required SourceRef Where { get; init; }

    public RecordFormat Format { get; init; }

    /// <summary>smaps KernelPageSize (pmap -XX KernelPageSize): the page size backing the VMA.</summary>
    public ulong? KernelPageSizeBytes { get; set; }

    public SourceRef? KernelPageSizeWhere { get; set; }

    /// <summary>smaps AnonHugePages: bytes of THP mapped.</summary>
    public ulong? AnonHugePagesBytes { get; set; }

    /// <summary>smaps THPeligible.</summary>
    public bool? ThpEligible { get; set; }

    /// <summary>smaps VmFlags mnemonics (fs/proc/task_mmu.c show_smap_vma_flags).</summary>
    public string[]? VmFlags { get; set; }

    public SourceRef? VmFlagsWhere { get; set; }

    public ulong SizeBytes => End - Start;

    public bool Shared => Perms.Length == 4 && Perms[3] == 's';

    public bool Writable => Perms.Length >= 2 && Perms[1] == 'w';

    public bool HasFlag(string mnemonic) => VmFlags is { } flags && Array.IndexOf(flags, mnemonic) >= 0;

    public override string ToString() => $"{Start:x}-{End:x} {Perms} {OffsetBytes:x} {Path}".TrimEnd();
}

/// <summary>kvm_set_user_memory's three historical formats (accel/kvm/trace-events).</summary>
public enum KvmSlotTraceFormat : byte
{
    /// <summary>`Slot#%d flags=0x%x gpa=0x%x size=0x%x ua=0x%x ret=%d` (slot = as_id &lt;&lt; 16 | id).</summary>
    Classic,
    /// <summary>`AddrSpace#%d Slot#%d ...` (QEMU 7.0+).</summary>
    AddressSpace,
    /// <summary>`... ua=0x%x guest_memfd=%d guest_memfd_offset=0x%x ret=%d` (QEMU 9.0+).</summary>
    GuestMemfd,
}

/// <summary>One KVM_SET_USER_MEMORY_REGION(2) ioctl as QEMU traced it.</summary>
public sealed record KvmSlotRecord(int AddressSpace, int Slot, uint Flags, ulong Gpa, ulong SizeBytes, ulong Hva, int? GuestMemfd, int Ret, KvmSlotTraceFormat Variant, SourceRef Where)
{
    /// <summary>KVM_MEM_LOG_DIRTY_PAGES.</summary>
    public const uint FlagLogDirty = 1u << 0;

    /// <summary>KVM_MEM_READONLY.</summary>
    public const uint FlagReadOnly = 1u << 1;

    /// <summary>KVM_MEM_GUEST_MEMFD.</summary>
    public const uint FlagGuestMemfd = 1u << 2;
}

/// <summary>vfio_region_setup: a device region's file offset in the device fd and its size.</summary>
public sealed record VfioRegionRecord(string Device, int Index, string Name, ulong Flags, ulong FileOffset, ulong SizeBytes, SourceRef Where);

/// <summary>vfio_region_mmap: one mmap of a region, offsets relative to the region, end inclusive.</summary>
public sealed record VfioMmapRecord(string Device, int Bar, int MmapIndex, ulong Offset, ulong EndInclusive, SourceRef Where)
{
    public ulong SizeBytes => EndInclusive - Offset + 1;
}

/// <summary>vfio_listener_region_add_ram (a GPA range and the HVA backing it) or vfio_listener_region_del.</summary>
public sealed record ListenerRecord(bool Add, ulong GpaStart, ulong GpaEndInclusive, ulong? Hva, SourceRef Where)
{
    public ulong SizeBytes => GpaEndInclusive - GpaStart + 1;
}

/// <summary>One row of a FlatView of `info mtree -f`: `START-END (prio N, TYPE): NAME [@OFFSET] [KVM]`, END inclusive.</summary>
public sealed record MtreeRow(ulong Start, ulong EndInclusive, int Priority, string Type, string Name, ulong Offset, bool Kvm, SourceRef Where)
{
    public ulong SizeBytes => EndInclusive - Start + 1;

    /// <summary>The VFIO BAR mmap this row shows (`0000:01:00.0 BAR 1 mmaps[0]`), if it is one.</summary>
    public (string Device, int Bar, int MmapIndex)? VfioBar { get; init; }
}

/// <summary>One /proc/iomem line: `START-END : NAME`, END inclusive, nesting by indentation.</summary>
public sealed record IomemRow(ulong Start, ulong EndInclusive, string Name, int Depth, SourceRef Where)
{
    public ulong SizeBytes => EndInclusive - Start + 1;
}

/// <summary>One memory BAR from lspci: `Region N: Memory at ADDR (64-bit, prefetchable) [size=256G]`.</summary>
public sealed record PciBarRecord(string Device, int Index, bool IndexInferred, ulong Pa, ulong SizeBytes, bool Prefetchable, SourceRef Where);

/// <summary>An lspci device header and the driver bound to it (`Kernel driver in use:`).</summary>
public sealed class PciDeviceRecord
{
    public required string Device { get; init; }

    public required string Description { get; init; }

    public required SourceRef Where { get; init; }

    public bool DomainGiven { get; init; }

    public string? Driver { get; set; }
}

/// <summary>Everything parsed from the inputs, before the join, with every line import could not take.</summary>
public sealed class ParsedRecords
{
    public List<VmaRecord> Vmas { get; } = new();

    public List<KvmSlotRecord> Slots { get; } = new();

    public List<VfioRegionRecord> VfioRegions { get; } = new();

    public List<VfioMmapRecord> VfioMmaps { get; } = new();

    public List<ListenerRecord> Listener { get; } = new();

    public List<MtreeRow> Mtree { get; } = new();

    public List<IomemRow> Iomem { get; } = new();

    public List<PciBarRecord> PciBars { get; } = new();

    public List<PciDeviceRecord> PciDevices { get; } = new();

    public List<SkippedLine> Skipped { get; } = new();

    /// <summary>lspci printed no PCI domain (all devices in domain 0000); the addresses were completed with it.</summary>
    public bool PciDevicesWithoutDomain { get; set; }

    /// <summary>Lines that show the records come from an x86 host (x86-only names and addresses).</summary>
    public List<(SourceRef Where, string Why)> X86Evidence { get; } = new();

    /// <summary>Which formats were given (by file name).</summary>
    public List<(RecordFormat Format, string File)> Inputs { get; } = new();
}
