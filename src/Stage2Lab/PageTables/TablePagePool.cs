using Stage2Lab.Arch;

namespace Stage2Lab.PageTables;

/// <summary>
/// Table pages as the hardware has them: PTRS_PER_PTE entries per page, each page with a fake physical address
/// (what a table descriptor points to) and the kernel's page refcount, kept as "non-zero entries" (the
/// kernel's page_count minus the allocation's own reference, stage2_pte_is_counted in v6.19 pgtable.c). Freed
/// pages are reused last-in first-out, so a run is deterministic.
/// <para>
/// Where a page's entries live is the model's business only (no id, PA or entry depends on it): the first
/// pages are arrays of their own, the rest are carved from pinned slabs (<see cref="TableSlab"/>) that grow
/// with the table, so a big table costs a few large allocations, and its memory can be backed by huge pages.
/// </para>
/// </summary>
internal sealed class TablePagePool
{
    /// <summary>Where table pages live in the model's physical space: above any RAM or BAR a scenario uses.</summary>
    public const ulong BasePa = 1UL << 46;

    /// <summary>Pages below this id are ordinary (young, per-thread) allocations; the rest are pinned slabs.</summary>
    internal const int UnpinnedPages = 64;

    /// <summary>The largest slab: 32 MiB (8,192 4K pages, 16 huge pages).</summary>
    private const int MaxSlabBytes = 32 << 20;

    private readonly Granule _granule;
    private readonly int _entries;
    private readonly TablePageCache? _cache;
    /// <summary>Pages the bookkeeping arrays start with (they double as the table grows).</summary>
    internal const int InitialPages = 64;

    private PageRef[] _pages;
    private int[] _counts;
    private sbyte[] _levels;
    private int[] _freeIds;
    private int _freeTop;
    private int _highWater;
    private readonly int _maxSlabPages;
    private ulong[]? _slab;
    private int _slabNext;
    private int _slabEnd;
    // The current slab came from the cache: its pages hold a finished table's entries until handed out.
    private bool _slabUsed;
    // Every slab this pool carved pages from, for the cache at ReturnPages.
    private readonly List<TableSlab> _slabs = new();

    /// <param name="cache">Where the ordinary pages and the slabs come from and go back to (<see cref="ReturnPages"/>); null: fresh ones.</param>
    public TablePagePool(Granule granule, TablePageCache? cache = null)
    {
        _granule = granule;
        _cache = cache;
        _entries = granule.EntriesPerTable;
        _maxSlabPages = MaxSlabBytes >> granule.PageShift;
        // A small table's bookkeeping (about 1.7 KiB) is handed on like its pages: a fuzz worker makes a table per case.
        (_pages, _counts, _levels, _freeIds) = cache?.TakeBookkeeping()
            ?? (new PageRef[InitialPages], new int[InitialPages], new sbyte[InitialPages], new int[InitialPages]);
    }

    public int LivePages { get; private set; }

    /// <summary>Largest page id ever handed out, plus one.</summary>
    public int HighWater => _highWater;

    /// <summary>The entries of page <paramref name="id"/> (valid while the pool lives).</summary>
    public Span<ulong> Page(int id)
    {
        PageRef page = _pages[id];
        return page.Array.AsSpan(page.Offset, _entries);
    }

    /// <summary>Freed page ids, the next one to be reused last.</summary>
    public ReadOnlySpan<int> FreeIds => _freeIds.AsSpan(0, _freeTop);

    public int Level(int id) => _levels[id];

    public bool IsLive(int id) => id >= 0 && id < _highWater && _levels[id] >= 0;

    public ref int EntryCount(int id) => ref _counts[id];

    public ulong PaOf(int id) => BasePa + ((ulong)id << _granule.PageShift);

    public int IdOf(ulong pa) => (int)((pa - BasePa) >> _granule.PageShift);

    /// <summary>Allocates a zeroed table page that will hold entries of <paramref name="level"/>.</summary>
    public int Allocate(int level)
    {
        int id;
        if (_freeTop > 0)
        {
            id = _freeIds[--_freeTop];
            Page(id).Clear();
        }
        else
        {
            id = _highWater++;
            if (id == _pages.Length)
                Grow();
            _pages[id] = NewPage(id);
        }
        _counts[id] = 0;
        _levels[id] = (sbyte)level;
        LivePages++;
        return id;
    }

    public void Free(int id)
    {
        _levels[id] = -1;
        _counts[id] = 0;
        if (_freeTop == _freeIds.Length)
            Array.Resize(ref _freeIds, _freeIds.Length * 2);
        _freeIds[_freeTop++] = id;
        LivePages--;
    }

    /// <summary>
    /// Zeroed memory for a page never handed out before. The pool keeps every page it ever allocated for its
    /// whole life, so a large table's pages are pinned: they are never copied from generation to generation by
    /// the GC (which, for the 131,072 pages of a 256 GiB BAR mapped page by page, costs more than mapping
    /// them). The first few stay on the ordinary heap: a small VM (a fuzz case, thousands a second on every
    /// core) then allocates them from its thread's own allocation context and they die young, where pinned
    /// allocations share one lock and are only reclaimed by full collections. Beyond them, pages come from
    /// slabs as large as the pages already allocated (so at most half the memory is ahead of need), up to
    /// <see cref="MaxSlabBytes"/>.
    /// </summary>
    private PageRef NewPage(int id)
    {
        if (id < UnpinnedPages)
            return new PageRef(_cache?.Take(_granule) ?? new ulong[_entries], 0);
        if (_slab is null || _slabNext == _slabEnd)
        {
            int entries = Math.Min(id, _maxSlabPages) * _entries;
            TableSlab? kept = _cache?.TakeSlab(entries);
            TableSlab slab = kept ?? TableSlab.Allocate(entries);
            (_slab, _slabNext, _slabEnd, _slabUsed) = (slab.Memory, slab.Start, slab.End, kept is not null);
            _slabs.Add(slab);
        }
        var page = new PageRef(_slab, _slabNext);
        // A kept slab is cleared a page at a time as the pages are handed out (the page is then in the cache
        // for the entries about to be written), not all at once when taken.
        if (_slabUsed)
            Array.Clear(_slab, _slabNext, _entries);
        _slabNext += _entries;
        return page;
    }

    /// <summary>
    /// The table is finished: its ordinary pages go to the cache for the next table, and the pool holds no page
    /// any more (a use after this fails rather than reading another table's entries).
    /// </summary>
    public void ReturnPages()
    {
        if (_cache is not null)
        {
            for (int id = 0; id < Math.Min(_highWater, UnpinnedPages); id++)
                _cache.Give(_granule, _pages[id].Array);
            foreach (TableSlab slab in _slabs)
                _cache.GiveSlab(slab);
            // Only the first size is kept: the next table starts as small as a fresh one would.
            if (_pages.Length == InitialPages && _freeIds.Length == InitialPages)
            {
                // As a fresh table's: nothing a later table reads depends on what this one left.
                Array.Clear(_pages);
                Array.Clear(_counts);
                Array.Clear(_levels);
                Array.Clear(_freeIds);
                _cache.GiveBookkeeping((_pages, _counts, _levels, _freeIds));
            }
        }
        _slabs.Clear();
        _slab = null;
        _slabNext = _slabEnd = 0;
        _pages = [];
        _highWater = 0;
        _freeTop = 0;
        LivePages = 0;
    }

    private void Grow()
    {
        int size = _pages.Length * 2;
        Array.Resize(ref _pages, size);
        Array.Resize(ref _counts, size);
        Array.Resize(ref _levels, size);
    }

    /// <summary>Where a page's entries are: <see cref="Array"/>[Offset .. Offset + entries).</summary>
    internal readonly record struct PageRef(ulong[] Array, int Offset);
}
