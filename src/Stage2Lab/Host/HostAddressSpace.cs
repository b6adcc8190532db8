using Stage2Lab.Arch;

namespace Stage2Lab.Host;

/// <summary>
/// The VMM process's address space (its mm): VMAs kept sorted for O(log n) lookup (vma_lookup), the host page
/// table's translation of an HVA, munmap with VMA splitting, and remapping of PFNMAP pieces.
/// </summary>
public sealed class HostAddressSpace
{
    private readonly List<Vma> _vmas = new();
    private ulong[] _starts = [];

    // The lookup array is rebuilt on the first lookup after VMAs were added (not once per VMA: adding n VMAs
    // one by one was O(n²) in copies, issue 12).
    private bool _stale;

    public HostAddressSpace(HostPageTableConfig config, PhysicalMemory memory)
    {
        Config = config;
        Memory = memory;
    }

    public HostPageTableConfig Config { get; }

    public PhysicalMemory Memory { get; }

    public IReadOnlyList<Vma> Vmas => _vmas;

    /// <summary>Adds a VMA after checking it the way mmap would refuse it.</summary>
    public HostResult AddVma(Vma vma)
    {
        ulong page = Config.PageSize;
        // Named only when refused: a fuzz campaign adds VMAs by the hundred thousand.
        string What() => $"VMA [0x{vma.Start:x}, 0x{vma.End:x})";
        if (vma.End <= vma.Start)
            return HostResult.Fail(Errno.EINVAL, $"{What()} is empty or wraps");
        if (((vma.Start | vma.End) & (page - 1)) != 0)
            return HostResult.Fail(Errno.EINVAL, $"{What()} is not aligned to the {Config.Granule.Name} page size");
        if (vma.End > 1UL << Config.VaBits)
            return HostResult.Fail(Errno.ENOMEM, $"{What()} ends above the {Config.VaBits}-bit user address space");
        if (vma.Kind == VmaKind.Hugetlb)
        {
            if (!Config.IsHugetlbSize(vma.HugePageSize))
                return HostResult.Fail(Errno.EINVAL, $"{What()}: hugetlb page size {SizeText.Format(vma.HugePageSize)} does not exist with {Config.Granule.Name} pages (valid: {string.Join(", ", Config.HugetlbSizes.Select(SizeText.Format))})");
            ulong mask = vma.HugePageSize - 1;
            if (((vma.Start | vma.End | vma.BasePa) & mask) != 0)
                return HostResult.Fail(Errno.EINVAL, $"{What()}: hugetlb start, size and PA must be multiples of {SizeText.Format(vma.HugePageSize)}");
        }
        if (vma.Kind != VmaKind.PfnMap && (vma.BasePa & (page - 1)) != 0)
            return HostResult.Fail(Errno.EINVAL, $"{What()}: backing PA 0x{vma.BasePa:x} is not page-aligned");
        int at = LowerBound(vma.Start);
        if (at < _vmas.Count && _vmas[at].Start < vma.End)
            return HostResult.Fail(Errno.EEXIST, $"{What()} overlaps VMA {_vmas[at]}");
        if (at > 0 && _vmas[at - 1].End > vma.Start)
            return HostResult.Fail(Errno.EEXIST, $"{What()} overlaps VMA {_vmas[at - 1]}");

        if (vma.Kind == VmaKind.PfnMap && !vma.PfnMapAtFirstFault)
            vma.Flags |= VmFlags.PfnMap | VmFlags.Io;
        if (vma.Kind == VmaKind.Hugetlb)
            vma.Flags |= VmFlags.Hugetlb;
        _vmas.Insert(at, vma);
        _stale = true;
        return HostResult.Ok;
    }

    /// <summary>remap: overrides the host mapping of [hva, hva+size) inside one PFNMAP VMA.</summary>
    public HostResult Remap(ulong hva, ulong sizeBytes, ulong pa)
    {
        ulong page = Config.PageSize;
        if (((hva | sizeBytes | pa) & (page - 1)) != 0 || sizeBytes == 0)
            return HostResult.Fail(Errno.EINVAL, $"remap 0x{hva:x} size 0x{sizeBytes:x} PA 0x{pa:x}: HVA, size and PA must be non-zero multiples of the page size");
        Vma? vma = FindVma(hva);
        if (vma is null || vma.Kind != VmaKind.PfnMap || hva + sizeBytes > vma.End)
            return HostResult.Fail(Errno.EINVAL, $"remap [0x{hva:x}, 0x{hva + sizeBytes:x}) must lie inside one pfnmap VMA");
        vma.Pieces.Add(new RemapPiece(hva, sizeBytes, pa));
        return HostResult.Ok;
    }

    /// <summary>vma_lookup: the VMA containing hva, or null.</summary>
    public Vma? FindVma(ulong hva)
    {
        if (_stale)
            Reindex();
        int i = SortedStarts.LastAtOrBelow(_starts, hva);
        if (i < 0)
            return null;
        Vma vma = _vmas[i];
        return hva < vma.End ? vma : null;
    }

    /// <summary>
    /// The VMAs intersecting [start, end), in address order (find_vma_intersection, repeated): a view of the
    /// sorted VMAs, valid until they change (copy it first to change them while walking it). VMAs never overlap,
    /// so the ones intersecting a range are consecutive. Allocates nothing: memslot checks call it per slot.
    /// </summary>
    public ReadOnlySpan<Vma> Intersecting(ulong start, ulong end)
    {
        if (_stale)
            Reindex();
        int first = Array.BinarySearch(_starts, start);
        if (first < 0)
            first = Math.Max(0, ~first - 1);
        if (first < _vmas.Count && _vmas[first].End <= start)
            first++;
        int last = first;
        while (last < _vmas.Count && _vmas[last].Start < end)
            last++;
        return System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_vmas)[first..last];
    }

    /// <summary>
    /// The host page table's view of hva: PA and host leaf size, or false when nothing maps it.
    /// Host pages count as present and writable (as if the VMM had touched them).
    /// </summary>
    public bool TryTranslate(ulong hva, out HostMapping mapping)
    {
        Vma? vma = FindVma(hva);
        if (vma is null)
        {
            mapping = default;
            return false;
        }
        mapping = Translate(vma, hva);
        return true;
    }

    /// <summary>The host mapping of an HVA inside a known VMA.</summary>
    public HostMapping Translate(Vma vma, ulong hva)
    {
        int shift = Config.PageShift;
        ulong pa = vma.PaOf(hva, shift);
        return new HostMapping(pa, LeafSize(vma, hva, pa), vma);
    }

    /// <summary>The size of the host leaf mapping hva (get_user_mapping_size: PAGE, PMD or PUD).</summary>
    private ulong LeafSize(Vma vma, ulong hva, ulong pa)
    {
        ulong pmd = Config.PmdSize;
        switch (vma.Kind)
        {
            case VmaKind.Hugetlb:
                // Contiguous huge pages are runs of PTEs or PMDs with the contiguous bit: the walk sees the level.
                if (vma.HugePageSize >= Config.PudSize && !Config.PmdFolded)
                    return Config.PudSize;
                return vma.HugePageSize >= pmd ? pmd : Config.PageSize;
            case VmaKind.Anonymous:
                // A PMD-mapped THP needs the aligned PMD range inside the VMA and a PMD-aligned PA.
                return vma.Thp && BlockInside(vma, hva, pmd) && ((pa & (pmd - 1)) == (hva & (pmd - 1))) ? pmd : Config.PageSize;
            default:
                // Huge pfnmap (6.12+): a PMD leaf where the PMD range is inside the VMA, PMD-aligned in PA and
                // physically contiguous.
                if (!vma.HostPmd || !BlockInside(vma, hva, pmd))
                    return Config.PageSize;
                ulong blockHva = hva & ~(pmd - 1);
                ulong blockPa = vma.PaOf(blockHva, Config.PageShift);
                return (blockPa & (pmd - 1)) == 0 && vma.IsLinearOver(blockHva, pmd, Config.PageShift) ? pmd : Config.PageSize;
        }
    }

    private static bool BlockInside(Vma vma, ulong hva, ulong size)
    {
        ulong start = hva & ~(size - 1);
        return start >= vma.Start && start + size <= vma.End && start + size > start;
    }

    /// <summary>The refusals of munmap, checked before anything changes.</summary>
    public HostResult CheckMunmap(ulong hva, ulong sizeBytes)
    {
        ulong page = Config.PageSize;
        if ((hva & (page - 1)) != 0 || sizeBytes == 0)
            return HostResult.Fail(Errno.EINVAL, $"munmap 0x{hva:x} size 0x{sizeBytes:x}: the address must be page-aligned and the size non-zero");
        ulong end = (hva + sizeBytes + page - 1) & ~(page - 1);
        if (end < hva)
            return HostResult.Fail(Errno.EINVAL, $"munmap 0x{hva:x} size 0x{sizeBytes:x} wraps the address space");
        foreach (Vma vma in Intersecting(hva, end))
        {
            if (vma.Kind != VmaKind.Hugetlb)
                continue;
            ulong mask = vma.HugePageSize - 1;
            if ((hva > vma.Start && (hva & mask) != 0) || (end < vma.End && (end & mask) != 0))
                return HostResult.Fail(Errno.EINVAL, $"munmap [0x{hva:x}, 0x{end:x}) would split hugetlb VMA {vma} inside a {SizeText.Format(vma.HugePageSize)} page");
        }
        return HostResult.Ok;
    }

    /// <summary>
    /// munmap(hva, size): removes [hva, hva+size) from every VMA it touches, splitting VMAs (the upper piece's
    /// vm_pgoff and backing PA advance). A hugetlb VMA may only be split at its huge page size (-EINVAL).
    /// </summary>
    public HostResult Munmap(ulong hva, ulong sizeBytes)
    {
        HostResult check = CheckMunmap(hva, sizeBytes);
        if (!check.Succeeded)
            return check;
        ulong end = (hva + sizeBytes + Config.PageSize - 1) & ~(Config.PageSize - 1);
        Vma[] touched = Intersecting(hva, end).ToArray();
        foreach (Vma vma in touched)
        {
            _vmas.Remove(vma);
            if (vma.Start < hva)
                _vmas.Add(vma.CloneRange(vma.Start, hva, Config.PageShift));
            if (end < vma.End)
                _vmas.Add(vma.CloneRange(end, vma.End, Config.PageShift));
        }
        _vmas.Sort((a, b) => a.Start.CompareTo(b.Start));
        Reindex();
        return HostResult.Ok;
    }

    /// <summary>The host fault handler ran for a page of this VMA: a fault-time remap VMA becomes VM_PFNMAP.</summary>
    public void OnHostFault(Vma vma)
    {
        if (vma.PfnMapAtFirstFault && !vma.IsPfnMap)
            vma.Flags |= VmFlags.PfnMap | VmFlags.Io;
    }

    /// <summary>The index of the first VMA starting at or above start (a binary search of the sorted list itself).</summary>
    private int LowerBound(ulong start)
    {
        int lo = 0, hi = _vmas.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_vmas[mid].Start < start)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo;
    }

    private void Reindex()
    {
        _stale = false;
        _starts = new ulong[_vmas.Count];
        for (int i = 0; i < _vmas.Count; i++)
            _starts[i] = _vmas[i].Start;
    }
}
