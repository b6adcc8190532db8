using System.Runtime.CompilerServices;
using Stage2Lab.Arch;

namespace Stage2Lab.PageTables;

/// <summary>
/// A guest's stage-2 translation table, bit-exact with what KVM/arm64 builds (arch/arm64/kvm/hyp/pgtable.c,
/// v6.19): real table pages of 512/2048/8192 descriptors, concatenated roots, refcounted table pages, and the
/// TLB and cache maintenance each change costs, recorded in <see cref="Counters"/>.
/// Every operation is a small visitor over the one generic <see cref="Walker"/>.
/// </summary>
public sealed partial class Stage2PageTable
{
    private readonly int[] _rootIds;
    private readonly long[] _liveTablesByLevel = new long[4];
    private Stage2Counters _counters;
    private long _generation;

    // What every leaf change reads, kept as plain fields (a map or unmap touches them per entry).
    private readonly bool _fwb;
    private readonly bool _dic;
    private readonly bool _deferUnmapTlbFlush;
    private readonly ulong _normalMemAttr;

    /// <param name="pageCache">Where table pages come from and, at <see cref="ReturnPages"/>, go back to; null: fresh ones.</param>
    public Stage2PageTable(Granule granule, int ipaBits, CpuFeatures features, Stage2ApiRevision api = Stage2ApiRevision.Current,
        TablePageCache? pageCache = null)
    {
        Geometry = new Stage2Geometry(granule, ipaBits);
        Features = features;
        Api = api;
        Pool = new TablePagePool(granule, pageCache);
        AddressMask = Descriptor.AddressMask(granule);
        _fwb = features.Fwb;
        _dic = features.Dic;
        // stage2_unmap_defer_tlb_flush: with FEAT_TLBIRANGE and FWB, per-leaf invalidations become one range.
        _deferUnmapTlbFlush = features.RangeTlbi && features.Fwb;
        _normalMemAttr = MemAttr.Encode(MemoryType.Normal, features.Fwb);
        // __kvm_pgtable_stage2_init: the concatenated PGD pages are allocated up front and never freed.
        _rootIds = new int[Geometry.RootPages];
        for (int i = 0; i < _rootIds.Length; i++)
            _rootIds[i] = Pool.Allocate(Geometry.StartLevel);
        _liveTablesByLevel[Geometry.StartLevel] = Geometry.RootPages;
    }

    public Stage2Geometry Geometry { get; }


    public Granule Granule => Geometry.Granule;

    public CpuFeatures Features { get; }

    public Stage2ApiRevision Api { get; }

    internal TablePagePool Pool { get; }

    /// <summary>A read-only view of the table pages (roots, levels, refcounts, entries), for auditing.</summary>
    public TableInspector Inspect => new(this);

    internal ulong AddressMask { get; }

    /// <summary>Everything the table has done so far.</summary>
    public ref readonly Stage2Counters Counters => ref _counters;

    /// <summary>
    /// Changes with every walk (<see cref="Walker"/>: descriptors are only written, and table pages only
    /// allocated, linked and freed, by a walk's visitors, some without <see cref="WritePte"/>, as MapPageByPage
    /// fills last-level tables) and with the hardware's AF set, the one write outside a walk: while it stays the
    /// same, every translation does too. Simulator-side memos of the table (<see cref="Stage2HitMemo"/>) key
    /// on it; it is no part of the modelled state and no count.
    /// </summary>
    public long Generation => _generation;

    /// <summary>The table may have changed: bump <see cref="Generation"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Changed() => _generation++;

    /// <summary>Table pages reachable from the root at each level (roots count at the start level).</summary>
    public long LiveTablePages(int level) => _liveTablesByLevel[level];

    public long LiveTablePagesTotal => Pool.LivePages;

    /// <summary>Bytes of table memory: one granule per live table page.</summary>
    public long TableBytes => Pool.LivePages * (long)Granule.PageSize;

    /// <summary>
    /// The table is finished with (nothing reads it again): its pages go back to the cache it was given, for the
    /// next table. Not a kernel operation: the model's own memory.
    /// </summary>
    public void ReturnPages() => Pool.ReturnPages();

    internal int RootId(int rootIndex) => _rootIds[rootIndex];

    internal int RootCount => _rootIds.Length;

    // ---- helpers shared by the visitors: the kernel's own small functions ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void WritePte(ref VisitContext ctx, ulong value)
    {
        ctx.Table[ctx.Index] = value;
        _counters.Add(Stage2Counter.DescriptorWrites);
    }

    internal int ChildId(ulong tablePte) => Pool.IdOf(tablePte & AddressMask);

    /// <summary>Allocates a table page for entries of <paramref name="level"/> and records it.</summary>
    internal int AllocateTable(int level)
    {
        int id = Pool.Allocate(level);
        _liveTablesByLevel[level]++;
        _counters.Add(Stage2Counter.TablePagesAllocated);
        return id;
    }

    internal void FreeTable(int id)
    {
        _liveTablesByLevel[Pool.Level(id)]--;
        Pool.Free(id);
        _counters.Add(Stage2Counter.TablePagesFreed);
    }

    /// <summary>get_page on the table page holding the entry.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void GetEntry(ref VisitContext ctx) => Pool.EntryCount(ctx.TableId)++;

    /// <summary>put_page on the table page holding the entry.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void PutEntry(ref VisitContext ctx) => Pool.EntryCount(ctx.TableId)--;
}
