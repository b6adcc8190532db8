namespace Stage2Lab.Host;

/// <summary>
/// A deterministic physical allocator for RAM backing the VMM's anonymous and hugetlbfs memory when a
/// scenario does not give the PA: first fit, lowest address first, aligned as asked.
/// </summary>
public sealed class RamAllocator
{
    private readonly PhysicalMemory _memory;
    private readonly List<(ulong Start, ulong End)> _used = new();

    public RamAllocator(PhysicalMemory memory) => _memory = memory;

    /// <summary>Allocates <paramref name="sizeBytes"/> of RAM aligned to <paramref name="alignBytes"/>; false when no RAM range has room.</summary>
    public bool TryAllocate(ulong sizeBytes, ulong alignBytes, out ulong pa)
    {
        foreach (PhysicalRange ram in _memory.Ram)
        {
            ulong candidate = AlignUp(ram.Base, alignBytes);
            while (candidate + sizeBytes <= ram.End && candidate >= ram.Base)
            {
                ulong conflictEnd = 0;
                foreach ((ulong start, ulong end) in _used)
                {
                    if (candidate < end && start < candidate + sizeBytes)
                        conflictEnd = Math.Max(conflictEnd, end);
                }
                if (conflictEnd == 0)
                {
                    _used.Add((candidate, candidate + sizeBytes));
                    pa = candidate;
                    return true;
                }
                candidate = AlignUp(conflictEnd, alignBytes);
            }
        }
        pa = 0;
        return false;
    }

    /// <summary>Marks a range the scenario placed itself, so later allocations avoid it.</summary>
    public void Reserve(ulong pa, ulong sizeBytes) => _used.Add((pa, pa + sizeBytes));

    private static ulong AlignUp(ulong value, ulong align) => align <= 1 ? value : (value + align - 1) & ~(align - 1);
}
