using Stage2Lab.Arch;

namespace Stage2Lab.PageTables;

/// <summary>
/// Table pages that one thread hands from a finished page table to the next: a fuzz worker builds and drops
/// thousands of small VMs a second, and without this each would allocate its table pages afresh (4 to 64 KiB
/// each, most of what a fuzz case allocates), so that every worker waits on collections the others cause.
/// A sweep's thread plays one large VM after another: their slabs (<see cref="TableSlab"/>, tens of MiB for a
/// BAR mapped page by page) are kept too, so the next run neither asks the kernel for fresh memory (a page
/// fault and a zeroing per host page) nor leaves the last run's slabs for a full collection to find.
/// A page comes back zeroed, as a fresh one; nothing the model computes depends on which memory a page had.
/// Not thread-safe: one cache per thread, like the VMs it serves.
/// </summary>
public sealed class TablePageCache
{
    /// <summary>Pages kept per granule: as many as one small table keeps off the pinned heap.</summary>
    private const int MaxPagesPerGranule = TablePagePool.UnpinnedPages;

    /// <summary>Slab memory kept at most: a finished table's slabs beyond this are let go.</summary>
    public const long MaxSlabBytes = 1L << 30;

    // Free pages by granule: 4K, 16K, 64K (EntriesPerTable 512, 2048, 8192).
    private readonly Stack<ulong[]>[] _free = [new(), new(), new()];

    // Free slabs by their number of entries (a table's slabs come in a few sizes: see TablePagePool.NewPage).
    private readonly Dictionary<int, Stack<TableSlab>> _slabs = new();
    private long _slabBytes;

    // The bookkeeping arrays of finished small tables (pages, refcounts, levels, free ids), at most a few.
    private readonly Stack<(TablePagePool.PageRef[], int[], sbyte[], int[])> _bookkeeping = new();
    private const int MaxBookkeeping = 4;

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

    /// <summary>A finished table's bookkeeping arrays, of <see cref="TablePagePool.InitialPages"/> entries each,
    /// or null when none is kept. Zeroed, as fresh ones.</summary>
    internal (TablePagePool.PageRef[], int[], sbyte[], int[])? TakeBookkeeping() =>
        _bookkeeping.TryPop(out var arrays) ? arrays : null;

    /// <summary>Keeps a finished table's bookkeeping arrays for the next table.</summary>
    internal void GiveBookkeeping((TablePagePool.PageRef[], int[], sbyte[], int[]) arrays)
    {
        if (_bookkeeping.Count < MaxBookkeeping)
            _bookkeeping.Push(arrays);
    }

    /// <summary>Slab memory held for reuse now.</summary>
    public long SlabBytes => _slabBytes;

    /// <summary>A kept slab of exactly <paramref name="entries"/> entries, NOT zeroed (the pool clears each page
    /// as it hands it out), or null when none is kept.</summary>
    internal TableSlab? TakeSlab(int entries)
    {
        if (!_slabs.TryGetValue(entries, out Stack<TableSlab>? free) || !free.TryPop(out TableSlab slab))
            return null;
        _slabBytes -= (long)entries * sizeof(ulong);
        return slab;
    }

    /// <summary>Keeps <paramref name="slab"/> (no longer used by any table) for the next table that needs one of its size.</summary>
    internal void GiveSlab(TableSlab slab)
    {
        int entries = slab.End - slab.Start;
        long bytes = (long)entries * sizeof(ulong);
        if (_slabBytes + bytes > MaxSlabBytes)
            return;
        if (!_slabs.TryGetValue(entries, out Stack<TableSlab>? free))
            _slabs.Add(entries, free = new Stack<TableSlab>());
        free.Push(slab);
        _slabBytes += bytes;
    }

    private static int Slot(Granule granule) => (granule.PageShift - 12) / 2;
}
