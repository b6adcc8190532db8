namespace Stage2Lab.Host;

/// <summary>What backs a VMA.</summary>
public enum VmaKind : byte
{
    /// <summary>Anonymous memory: 4K pages, or PMD-size transparent huge pages where THP is enabled.</summary>
    Anonymous,
    /// <summary>hugetlbfs: huge pages of the hstate size (contiguous sizes included).</summary>
    Hugetlb,
    /// <summary>A VM_PFNMAP|VM_IO device mapping (remap_pfn_range, vfio-pci BAR mmap).</summary>
    PfnMap,
}

/// <summary>The vm_flags the fault path reads.</summary>
[Flags]
public enum VmFlags : uint
{
    None = 0,
    Read = 1 << 0,
    Write = 1 << 1,
    Shared = 1 << 3,
    /// <summary>VM_PFNMAP: pages without struct page, the PFN comes from the page table (or vm_pgoff).</summary>
    PfnMap = 1 << 10,
    /// <summary>VM_IO.</summary>
    Io = 1 << 14,
    /// <summary>VM_HUGEPAGE (MADV_HUGEPAGE).</summary>
    HugePage = 1 << 16,
    /// <summary>VM_NOHUGEPAGE.</summary>
    NoHugePage = 1 << 17,
    /// <summary>VM_HUGETLB.</summary>
    Hugetlb = 1 << 22,
    /// <summary>VM_MIXEDMAP: may hold both struct-page and raw PFN pages.</summary>
    MixedMap = 1 << 28,
    /// <summary>VM_ALLOW_ANY_UNCACHED (vfio-pci, 6.8+): KVM may map the device Normal-NC instead of Device.</summary>
    AllowAnyUncached = 1 << 29,
}

/// <summary>The system-wide transparent_hugepage/enabled setting.</summary>
public enum ThpMode : byte
{
    Never,
    Madvise,
    Always,
}

/// <summary>A piece of a PFNMAP VMA remapped to its own PA (a driver populating a VMA in pieces).</summary>
public readonly record struct RemapPiece(ulong Hva, ulong SizeBytes, ulong Pa)
{
    public ulong End => Hva + SizeBytes;
}

/// <summary>
/// One virtual memory area of the VMM process: [Start, End), flags, vm_pgoff, and how the host maps it.
/// </summary>
public sealed class Vma
{
    public required ulong Start { get; init; }

    public required ulong End { get; set; }

    public required VmaKind Kind { get; init; }

    public VmFlags Flags { get; set; } = VmFlags.Read | VmFlags.Write;

    /// <summary>vm_pgoff in pages: the PFN of Start for a whole-VMA remap_pfn_range, or a file offset.</summary>
    public ulong PgOff { get; set; }

    /// <summary>Anonymous and hugetlbfs memory: the PA backing Start (the backing is physically contiguous).</summary>
    public ulong BasePa { get; set; }

    /// <summary>hugetlbfs: the hstate's huge page size.</summary>
    public ulong HugePageSize { get; init; }

    /// <summary>Anonymous memory: THP may back PMD-size aligned ranges (THP enabled for this VMA).</summary>
    public bool Thp { get; init; }

    /// <summary>PFNMAP: the host maps PMD-size leaves where possible (huge pfnmap, 6.12+).</summary>
    public bool HostPmd { get; init; }

    /// <summary>The VMA's stage-1 memory type is Normal cacheable (kvm_vma_is_cacheable).</summary>
    public bool Cacheable { get; init; }

    /// <summary>A device VMA that becomes VM_PFNMAP only when the host fault handler first runs.</summary>
    public bool PfnMapAtFirstFault { get; init; }

    /// <summary>Remapped pieces, in the order given (a later piece wins where two overlap).</summary>
    public List<RemapPiece> Pieces { get; } = new();

    public string? Name { get; init; }

    public ulong SizeBytes => End - Start;

    public bool Contains(ulong hva) => hva >= Start && hva < End;

    public bool IsPfnMap => (Flags & VmFlags.PfnMap) != 0;

    /// <summary>is_vm_hugetlb_page.</summary>
    public bool IsHugetlb => (Flags & VmFlags.Hugetlb) != 0;

    /// <summary>The PA of an HVA before remapped pieces: what vm_pgoff (or the linear backing) says.</summary>
    public ulong LinearPa(ulong hva, int pageShift) => Kind == VmaKind.PfnMap
        ? (PgOff << pageShift) + (hva - Start)
        : BasePa + (hva - Start);

    /// <summary>The PA the host maps at hva: the last remapped piece holding it, else the linear PA.</summary>
    public ulong PaOf(ulong hva, int pageShift)
    {
        for (int i = Pieces.Count - 1; i >= 0; i--)
        {
            RemapPiece piece = Pieces[i];
            if (hva >= piece.Hva && hva < piece.End)
                return piece.Pa + (hva - piece.Hva);
        }
        return LinearPa(hva, pageShift);
    }

    /// <summary>
    /// Whether [start, start+size) maps physically contiguously (PaOf(start) + offset for every page). The
    /// mapping is linear between piece edges, so one probe per segment decides it, not one per page.
    /// </summary>
    public bool IsLinearOver(ulong start, ulong sizeBytes, int pageShift)
    {
        if (Pieces.Count == 0)
            return true;
        ulong end = start + sizeBytes;
        ulong delta = PaOf(start, pageShift) - start;
        foreach (RemapPiece piece in Pieces)
        {
            if (piece.Hva > start && piece.Hva < end && PaOf(piece.Hva, pageShift) - piece.Hva != delta)
                return false;
            if (piece.End > start && piece.End < end && PaOf(piece.End, pageShift) - piece.End != delta)
                return false;
        }
        return true;
    }

    public Vma CloneRange(ulong start, ulong end, int pageShift)
    {
        var copy = new Vma
        {
            Start = start,
            End = end,
            Kind = Kind,
            Flags = Flags,
            PgOff = PgOff + ((start - Start) >> pageShift),
            BasePa = BasePa + (start - Start),
            HugePageSize = HugePageSize,
            Thp = Thp,
            HostPmd = HostPmd,
            Cacheable = Cacheable,
            PfnMapAtFirstFault = PfnMapAtFirstFault,
            Name = Name,
        };
        foreach (RemapPiece piece in Pieces)
        {
            ulong s = Math.Max(piece.Hva, start), e = Math.Min(piece.End, end);
            if (s < e)
                copy.Pieces.Add(new RemapPiece(s, e - s, piece.Pa + (s - piece.Hva)));
        }
        return copy;
    }

    public override string ToString()
    {
        string kind = Kind switch
        {
            VmaKind.Anonymous => Thp ? "anon+thp" : "anon",
            VmaKind.Hugetlb => $"hugetlb {Arch.SizeText.Format(HugePageSize)}",
            _ => $"pfnmap pgoff 0x{PgOff:x}",
        };
        return $"[0x{Start:x}, 0x{End:x}) {kind}";
    }
}
