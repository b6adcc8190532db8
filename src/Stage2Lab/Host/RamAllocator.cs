namespace Stage2Lab.Host;

/// <summary>
/// A deterministic physical allocator for RAM backing the VMM's anonymous and hugetlbfs memory when a
/// scenario does not give the PA: first fit, lowest address first, aligned as asked.
/// </summary>
/// <remarks>
/// Used space is kept as sorted, disjoint, merged ranges, so the conflict test at a candidate is a binary search;
/// and since nothing is ever freed, a request of the same size and alignment as an earlier one can resume where
/// that one was placed (nothing below it fits now either). Placing n mappings is O(n log n) for the usual
/// layouts, where it was O(n²) to O(n³) (issue 12: cost that grows faster than the work); the addresses chosen
/// are the same.
/// </remarks>
public sealed class RamAllocator
{
    private readonly PhysicalMemory _memory;
    private readonly List<(ulong Start, ulong End)> _used = new();
    private readonly Dictionary<(ulong Size, ulong Align), (int Ram, ulong Candidate)> _resume = new();

    public RamAllocator(PhysicalMemory memory) => _memory = memory;

    /// <summary>Allocates <paramref name="sizeBytes"/> of RAM aligned to <paramref name="alignBytes"/>; false when no RAM range has room.</summary>
    public bool TryAllocate(ulong sizeBytes, ulong alignBytes, out ulong pa)
    {
        (int firstRam, ulong resumeAt) = _resume.GetValueOrDefault((sizeBytes, alignBytes), (0, 0UL));
        IReadOnlyList<PhysicalRange> rams = _memory.Ram;
        for (int r = firstRam; r < rams.Count; r++)
        {
            PhysicalRange ram = rams[r];
            ulong candidate = AlignUp(r == firstRam ? Math.Max(ram.Base, resumeAt) : ram.Base, alignBytes);
            while (candidate + sizeBytes <= ram.End && candidate >= ram.Base)
            {
                ulong conflictEnd = ConflictEnd(candidate, candidate + sizeBytes);
                if (conflictEnd == 0)
                {
                    Add(candidate, candidate + sizeBytes);
                    _resume[(sizeBytes, alignBytes)] = (r, candidate);
                    pa = candidate;
                    return true;
                }
                candidate = AlignUp(conflictEnd, alignBytes);
            }
        }
        _resume[(sizeBytes, alignBytes)] = (rams.Count, 0);
        pa = 0;
        return false;
    }

    /// <summary>Marks a range the scenario placed itself, so later allocations avoid it.</summary>
    public void Reserve(ulong pa, ulong sizeBytes) => Add(pa, pa + sizeBytes);

    /// <summary>The end of the used space [start, end) runs into, or 0 when it is free.</summary>
    private ulong ConflictEnd(ulong start, ulong end)
    {
        // The last used range starting below end: ranges are disjoint and sorted, so it ends last of those.
        int i = LastStartingBelow(end);
        return i >= 0 && _used[i].End > start ? _used[i].End : 0;
    }

    private int LastStartingBelow(ulong value)
    {
        int lo = 0, hi = _used.Count - 1, found = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_used[mid].Start < value)
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return found;
    }

    /// <summary>Adds [start, end) to the used ranges, merging it with those it overlaps or touches.</summary>
    private void Add(ulong start, ulong end)
    {
        if (end <= start)
            return;
        int first = LastStartingBelow(start);
        if (first < 0 || _used[first].End < start)
            first++;
        int last = first;
        while (last < _used.Count && _used[last].Start <= end)
            last++;
        if (last > first)
        {
            start = Math.Min(start, _used[first].Start);
            end = Math.Max(end, _used[last - 1].End);
            _used.RemoveRange(first, last - first);
        }
        _used.Insert(first, (start, end));
    }

    private static ulong AlignUp(ulong value, ulong align) => align <= 1 ? value : (value + align - 1) & ~(align - 1);
}
