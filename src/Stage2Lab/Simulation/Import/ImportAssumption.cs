namespace Stage2Lab.Simulation.Import;

/// <summary>What import had to assume because no record says it.</summary>
public enum AssumptionKind : byte
{
    /// <summary>The host PAGE_SIZE (and so the stage-2 granule).</summary>
    HostPageSize,
    /// <summary>transparent_hugepage/enabled of the host.</summary>
    HostThp,
    /// <summary>The host's RAM ranges (no /proc/iomem, or too little System RAM in it).</summary>
    HostRam,
    /// <summary>The physical address backing anonymous, shmem or hugetlbfs memory (the kernel shows none).</summary>
    BackingPa,
    /// <summary>A device BAR's physical address or size.</summary>
    DevicePa,
    /// <summary>A BAR's region index (lspci -v prints none).</summary>
    BarIndex,
    /// <summary>How vm_pgoff of a vfio-pci BAR mmap is to be read (file offset or PFN).</summary>
    VfioOffsetForm,
    /// <summary>A guest physical address (IPA) no record gives.</summary>
    GuestAddress,
    /// <summary>A memslot's backing VMA no record shows.</summary>
    Backing,
    /// <summary>Memslot ids not in the records.</summary>
    SlotId,
    /// <summary>Which VMAs or BARs are guest memory, when no guest-side record says so.</summary>
    GuestMemory,
    /// <summary>The records come from an x86 host: the layout is taken as KVM/arm64 would map it.</summary>
    X86Layout,
    /// <summary>A VMA property the records do not show (huge pfnmap, cacheability).</summary>
    VmaProperty,
    /// <summary>The guest accesses: no record holds them.</summary>
    Workload,
}

/// <summary>One explicit assumption: its kind, what it is about, the value taken and why; and the line it leans on, if any.</summary>
public sealed record ImportAssumption(AssumptionKind Kind, string Subject, string Text, SourceRef? Basis = null)
{
    public override string ToString() => Basis is { } b ? $"{Subject}: {Text} ({b})" : $"{Subject}: {Text}";
}
