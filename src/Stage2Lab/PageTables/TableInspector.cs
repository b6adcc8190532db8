namespace Stage2Lab.PageTables;

/// <summary>
/// A read-only view of a stage-2 table's pages, for those who audit it (the invariant checker, tests): the roots,
/// every table page's level, refcount and entries, and which physical addresses are table pages. It exposes
/// nothing that can change the table, and nothing about how the pages are stored.
/// </summary>
public readonly struct TableInspector
{
    private readonly Stage2PageTable _pgt;

    internal TableInspector(Stage2PageTable pgt) => _pgt = pgt;

    /// <summary>The concatenated root pages (kvm_get_vtcr's start level; up to 16).</summary>
    public int RootCount => _pgt.RootCount;

    public int RootId(int rootIndex) => _pgt.RootId(rootIndex);

    /// <summary>Every page id ever handed out is below this.</summary>
    public int PageIdLimit => _pgt.Pool.HighWater;

    /// <summary>Table pages allocated and not freed.</summary>
    public int LivePages => _pgt.Pool.LivePages;

    /// <summary>The mask of a table descriptor's next-level address (and a leaf's output address).</summary>
    public ulong AddressMask => _pgt.AddressMask;

    public bool IsLive(int id) => _pgt.Pool.IsLive(id);

    /// <summary>The level whose entries the page holds.</summary>
    public int LevelOf(int id) => _pgt.Pool.Level(id);

    /// <summary>The page's refcount as the table keeps it (its counted, i.e. non-zero, entries).</summary>
    public int RefCount(int id) => _pgt.Pool.EntryCount(id);

    public ReadOnlySpan<ulong> Entries(int id) => _pgt.Pool.Page(id);

    /// <summary>The physical address a table descriptor uses for the page.</summary>
    public ulong PaOf(int id) => _pgt.Pool.PaOf(id);

    /// <summary>The page a table descriptor's address names; false when the address is no table page's.</summary>
    public bool TryGetId(ulong tablePa, out int id)
    {
        id = -1;
        if (tablePa < TablePagePool.BasePa)
            return false;
        ulong index = (tablePa - TablePagePool.BasePa) >> _pgt.Granule.PageShift;
        if (index >= (ulong)_pgt.Pool.HighWater || _pgt.Pool.PaOf((int)index) != tablePa)
            return false;
        id = (int)index;
        return true;
    }
}
