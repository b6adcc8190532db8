using Stage2Lab.Arch;

namespace Stage2Lab.PageTables;

/// <summary>
/// Table pages that one thread hands from a finished page table to the next: a fuzz worker builds and drops
/// thousands of small VMs a second, and without this each would allocate its table pages afresh (4 to 64 KiB
/// each, most of what a fuzz case allocates), so that every worker waits on collections the others cause.
/// A page comes back zeroed, as a fresh one; nothing the model computes depends on which memory a page had.
/// Not thread-safe: one cache per thread, like the VMs it serves.
/// </summary>
public sealed class TablePageCache
{
    /// <summary>Pages kept per granule: as many as one small table keeps off the pinned heap.</summary>
    private const int MaxPagesPerGranule = TablePagePool.UnpinnedPages;

    // Free pages by granule: 4K, 16K, 64K (EntriesPerTable 512, 2048, 8192).
    private readonly Stack<ulong[]>[] _free = [new(), new(), new()];

    /// <summary>Pages held for reuse now (all granules).</summary>
    public int Count => _free[0].Count + _free[1].Count + _free[2].Count;

    /// <summary>A zeroed page of <paramref name="granule"/>'s size: a kept one, or null when none is kept.</summary>
    internal ulong[]? Take(Granule granule)
    {
        if (!_free[Slot(granule)].TryPop(out ulong[]? page))
            return null;
        Array.Clear(page);
        return page;
    }

    /// <summary>Keeps <paramref name="page"/> (no longer used by any table) for the next table of its size.</summary>
    internal void Give(Granule granule, ulong[] page)
    {
        Stack<ulong[]> free = _free[Slot(granule)];
        if (free.Count < MaxPagesPerGranule)
            free.Push(page);
    }

    private static int Slot(Granule granule) => (granule.PageShift - 12) / 2;
}
