namespace Stage2Lab.Simulation.Advice;

/// <summary>The kinds of change `advise` tries, each lifting some binding constraints (see <see cref="ConstraintLevers"/>).</summary>
public enum ChangeKind : byte
{
    /// <summary>Place a mapping so that its HVA agrees with its PA (device memory) or the slot's IPA (RAM) modulo the largest block.</summary>
    AlignHva,
    /// <summary>Place a memslot at a guest address that agrees with its HVA modulo the largest block.</summary>
    AlignIpa,
    /// <summary>Grow a memslot (and its mapping) to block boundaries.</summary>
    ResizeSlot,
    /// <summary>Split a dirty-logged memslot that spans several mappings into one slot per mapping, one of them not logged.</summary>
    SplitSlot,
    /// <summary>Back anonymous memory with transparent huge pages.</summary>
    Thp,
    /// <summary>Back guest memory with hugetlbfs pages of a block size.</summary>
    Hugetlb,
    /// <summary>The host maps a VM_PFNMAP mapping with PMD-size leaves (huge pfnmap).</summary>
    HostHugePfnmap,
    /// <summary>A host kernel with another page size (the stage-2 granule).</summary>
    Granule,
    /// <summary>The slot without dirty logging.</summary>
    NoDirtyLogging,
}

/// <summary>The names of the kinds as the output shows them (align-hva, ...).</summary>
public static class ChangeKinds
{
    public static IReadOnlyList<ChangeKind> All { get; } = Enum.GetValues<ChangeKind>();

    public static string Name(ChangeKind kind) => kind switch
    {
        ChangeKind.AlignHva => "align-hva",
        ChangeKind.AlignIpa => "align-ipa",
        ChangeKind.ResizeSlot => "resize-slot",
        ChangeKind.SplitSlot => "split-slot",
        ChangeKind.Thp => "thp",
        ChangeKind.Hugetlb => "hugetlb",
        ChangeKind.HostHugePfnmap => "host-huge-pfnmap",
        ChangeKind.Granule => "granule",
        _ => "no-dirty-logging",
    };
}
