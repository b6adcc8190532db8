using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.Kvm;

namespace Stage2Lab.Simulation.Scenarios;

/// <summary>
/// A scenario: the host, the VMM's mappings, the VM, its memslots and a timeline of events. Read from YAML or
/// JSON (docs/scenario-format.md); every field keeps the file position it came from for error messages.
/// </summary>
public sealed class Scenario
{
    public string Name { get; set; } = "scenario";

    public string? Description { get; set; }

    public string SourceFile { get; set; } = "";

    public HostSpec Host { get; set; } = new();

    public List<VmaSpec> Mappings { get; } = new();

    public VmSpec Vm { get; set; } = new();

    public List<MemslotSpec> Memslots { get; } = new();

    public List<TimelineEvent> Timeline { get; } = new();

    /// <summary>The guest's own stage 1 (the <c>guest:</c> section); null: the default (<see cref="GuestSpec"/>).</summary>
    public GuestSpec? Guest { get; set; }

    /// <summary>The `nested:` section: the VM runs an L2 guest whose L1 hypervisor's own stage 2 this describes.</summary>
    public NestedSpec? Nested { get; set; }
}

/// <summary>The L1 hypervisor's stage 2 for its L2 guest (the `nested:` section).</summary>
public sealed class NestedSpec
{
    public List<L1Stage2Mapping> L1Stage2 { get; } = new();

    public SourceSpan Where { get; set; }
}

/// <summary>Where in the scenario file something was written.</summary>
public readonly record struct SourceSpan(int Line, int Column, string Path)
{
    public override string ToString() => $"{Line}:{Column} ({Path})";
}

public sealed class HostSpec
{
    public Granule PageSize { get; set; } = Granule.Size4K;

    public int VaBits { get; set; } = 48;

    /// <summary>transparent_hugepage/enabled.</summary>
    public ThpMode Thp { get; set; } = ThpMode.Always;

    public List<RangeSpec> Ram { get; } = new();

    public List<RangeSpec> Devices { get; } = new();
}

public sealed class RangeSpec
{
    public string Name { get; set; } = "";

    public ulong Base { get; set; }

    public ulong SizeBytes { get; set; }

    public SourceSpan Where { get; set; }
}

/// <summary>One VMA of the VMM.</summary>
public sealed class VmaSpec
{
    public string Name { get; set; } = "";

    public VmaKind Kind { get; set; }

    public ulong Start { get; set; }

    public ulong SizeBytes { get; set; }

    /// <summary>Anonymous/hugetlb backing PA; null: allocated from RAM.</summary>
    public ulong? Pa { get; set; }

    /// <summary>Anonymous: MADV_HUGEPAGE (matters with THP madvise); null: follow the host THP setting.</summary>
    public bool? Thp { get; set; }

    public ulong HugePageSize { get; set; }

    /// <summary>PFNMAP: vm_pgoff in pages; null: derived from <see cref="Device"/>.</summary>
    public ulong? PgOff { get; set; }

    /// <summary>PFNMAP: the device region whose base the VMA maps.</summary>
    public string? Device { get; set; }

    /// <summary>PFNMAP: offset into the device region.</summary>
    public ulong DeviceOffset { get; set; }

    /// <summary>vfio-pci style: vm_pgoff holds (region index &lt;&lt; 40 | offset) &gt;&gt; PAGE_SHIFT, not a PFN.</summary>
    public int? VfioRegionIndex { get; set; }

    public bool HostPmd { get; set; }

    public bool UncachedOk { get; set; }

    public bool Cacheable { get; set; }

    public bool MixedMap { get; set; }

    public bool FaultTimeRemap { get; set; }

    public bool ReadOnly { get; set; }

    public List<RemapPiece> Pieces { get; } = new();

    public SourceSpan Where { get; set; }
}

public sealed class VmSpec
{
    public int IpaBits { get; set; } = 40;

    public bool Fwb { get; set; }

    public bool Dic { get; set; } = true;

    public bool RangeTlbi { get; set; }

    public List<string> Policies { get; } = new();

    public ulong EagerSplitChunkBytes { get; set; }

    public bool ManualDirtyLogProtect { get; set; }

    public string CostProfile { get; set; } = "";

    public int MaxSlots { get; set; } = 32764;

    /// <summary>`pkvm`: an ordinary VM, a non-protected guest under protected KVM (true), or a protected guest.</summary>
    public VmFlavor Pkvm { get; set; }

    /// <summary>Where `pkvm` was written (for errors about the policies it needs).</summary>
    public SourceSpan? PkvmWhere { get; set; }
}

public sealed class MemslotSpec
{
    public int Id { get; set; }

    public ulong Ipa { get; set; }

    public ulong SizeBytes { get; set; }

    public ulong Hva { get; set; }

    public MemslotFlags Flags { get; set; }

    public SourceSpan Where { get; set; }
}
