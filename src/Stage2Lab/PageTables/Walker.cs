using System.Runtime.CompilerServices;
using Stage2Lab.Arch;

namespace Stage2Lab.PageTables;

/// <summary>enum kvm_pgtable_walk_flags: which callbacks a visitor wants, and how errors are treated.</summary>
[Flags]
public enum WalkFlags
{
    None = 0,
    Leaf = 1 << 0,
    TablePre = 1 << 1,
    TablePost = 1 << 2,
    /// <summary>KVM_PGTABLE_WALK_HANDLE_FAULT: -EAGAIN stops the walk (a fault handler retries the guest).</summary>
    HandleFault = 1 << 4,
    /// <summary>KVM_PGTABLE_WALK_SKIP_BBM_TLBI: no TLB invalidation when breaking (unlinked tables).</summary>
    SkipBbmTlbi = 1 << 5,
    /// <summary>KVM_PGTABLE_WALK_SKIP_CMO: no cache maintenance (unlinked tables).</summary>
    SkipCmo = 1 << 6,
}

/// <summary>The entry a visitor is called for (struct kvm_pgtable_visit_ctx).</summary>
internal ref struct VisitContext
{
    public Span<ulong> Table;
    public int TableId;
    public int Index;
    public ulong Old;
    public ulong Start;
    public ulong Addr;
    public ulong End;
    public int Level;
    public WalkFlags Flags;

    /// <summary>
    /// Set by a visitor that has done everything below a table entry itself (a model shortcut, not a kernel
    /// flag: see <see cref="Stage2PageTable.MapPageByPage"/>): the walk moves past the entry without
    /// descending into it and without its TABLE_POST callback.
    /// </summary>
    public bool SkipChildren;
}

/// <summary>A walker callback (struct kvm_pgtable_walker). Implemented by structs so the walk is specialised
/// per operation and allocates nothing.</summary>
internal interface IWalkVisitor
{
    int Visit(ref VisitContext ctx, WalkFlags visit);
}

/// <summary>
/// The one generic walker every operation uses: kvm_pgtable_walk / __kvm_pgtable_walk / __kvm_pgtable_visit
/// (v6.19 pgtable.c). It visits entries in IPA order over the concatenated roots: TABLE_PRE on the way down,
/// LEAF for leaves and invalid entries, TABLE_POST on the way up, re-reading an entry after its callback so a
/// visitor may install or replace a table and have the walk descend into it.
/// </summary>
internal static class Walker
{
    private struct WalkData
    {
        public ulong Start;
        public ulong Addr;
        public ulong End;
    }

    /// <summary>kvm_pgtable_walk: the range is widened to pages; beyond BIT(ia_bits) is -ERANGE.</summary>
    public static int Walk<TVisitor>(Stage2PageTable pgt, ulong addr, ulong size, WalkFlags flags, ref TVisitor visitor)
        where TVisitor : struct, IWalkVisitor
    {
        Granule granule = pgt.Granule;
        ulong start = addr & granule.PageMask;
        ulong end = start + size;
        if (end < start)
            return -Errno.ERANGE;
        end = (end + granule.PageSize - 1) & granule.PageMask;
        ulong limit = pgt.Geometry.IpaLimit;
        if (start > limit || end > limit || end < start)
            return -Errno.ERANGE;

        // Visitors write through ctx.Table (and some, as MapPageByPage's, without WritePte): a walk may change the table.
        pgt.Changed();
        var data = new WalkData { Start = start, Addr = start, End = end };
        int ret = 0;
        int startLevel = pgt.Geometry.StartLevel;
        for (int root = pgt.Geometry.RootPageIndex(start); data.Addr < data.End; root++)
        {
            ret = WalkTable(pgt, ref data, pgt.RootId(root), startLevel, flags, ref visitor);
            if (ret != 0)
                break;
        }
        return ret;
    }

    /// <summary>Walks an unlinked table (create_unlinked / free_unlinked) over [0, span).</summary>
    public static int WalkUnlinked<TVisitor>(Stage2PageTable pgt, int tableId, int level, ulong span, WalkFlags flags, ref TVisitor visitor)
        where TVisitor : struct, IWalkVisitor
    {
        pgt.Changed();
        var data = new WalkData { Start = 0, Addr = 0, End = span };
        return WalkTable(pgt, ref data, tableId, level, flags, ref visitor);
    }

    private static int WalkTable<TVisitor>(Stage2PageTable pgt, ref WalkData data, int tableId, int level, WalkFlags flags, ref TVisitor visitor)
        where TVisitor : struct, IWalkVisitor
    {
        Span<ulong> table = pgt.Pool.Page(tableId);
        if (level == Granule.LastLevel)
            return WalkLastLevel(pgt.Granule, ref data, table, tableId, flags, ref visitor);
        Granule granule = pgt.Granule;
        int ret = 0;
        for (int idx = granule.IndexAt(data.Addr, level); idx < table.Length; idx++)
        {
            if (data.Addr >= data.End)
                break;
            ret = VisitEntry(pgt, ref data, table, tableId, idx, level, flags, ref visitor);
            if (ret != 0)
                break;
        }
        return ret;
    }

    /// <summary>
    /// A last-level table: kvm_pte_table() is false for every entry there, so __kvm_pgtable_visit comes down
    /// to the LEAF callback and the step to the next page — the same visits as <see cref="VisitEntry"/> makes,
    /// in a loop without its table handling (most entries of a big table are last-level ones).
    /// </summary>
    private static int WalkLastLevel<TVisitor>(Granule granule, ref WalkData data, Span<ulong> table, int tableId, WalkFlags flags, ref TVisitor visitor)
        where TVisitor : struct, IWalkVisitor
    {
        ulong page = granule.PageSize;
        bool leaf = (flags & WalkFlags.Leaf) != 0;
        // One context for the table's entries (visitors read it, and SkipChildren means nothing here).
        var ctx = new VisitContext
        {
            Table = table,
            TableId = tableId,
            Start = data.Start,
            End = data.End,
            Level = Granule.LastLevel,
            Flags = flags,
        };
        ulong addr = data.Addr;
        int ret = 0;
        for (int idx = granule.IndexAt(addr, Granule.LastLevel); idx < table.Length && addr < ctx.End; idx++)
        {
            if (leaf)
            {
                ctx.Index = idx;
                ctx.Old = table[idx];
                ctx.Addr = addr;
                ret = visitor.Visit(ref ctx, WalkFlags.Leaf);
                if (!Continue(flags, ret))
                    break;
                ret = 0;
            }
            addr = (addr & ~(page - 1)) + page;
        }
        data.Addr = addr;
        return ret;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool Continue(WalkFlags flags, int ret)
    {
        // kvm_pgtable_walk_continue: outside a fault handler -EAGAIN (a leaf that needs no update) is ignored.
        if (ret == -Errno.EAGAIN)
            return (flags & WalkFlags.HandleFault) == 0;
        return ret == 0;
    }

    private static int VisitEntry<TVisitor>(Stage2PageTable pgt, ref WalkData data, Span<ulong> table, int tableId, int idx, int level, WalkFlags flags, ref TVisitor visitor)
        where TVisitor : struct, IWalkVisitor
    {
        var ctx = new VisitContext
        {
            Table = table,
            TableId = tableId,
            Index = idx,
            Old = table[idx],
            Start = data.Start,
            Addr = data.Addr,
            End = data.End,
            Level = level,
            Flags = flags,
        };
        int ret = 0;
        bool reload = false;
        bool isTable = new Descriptor(ctx.Old).IsTable(level);

        if (isTable && (flags & WalkFlags.TablePre) != 0)
        {
            ret = visitor.Visit(ref ctx, WalkFlags.TablePre);
            reload = true;
        }
        if (!isTable && (flags & WalkFlags.Leaf) != 0)
        {
            ret = visitor.Visit(ref ctx, WalkFlags.Leaf);
            reload = true;
        }
        if (reload)
        {
            ctx.Old = table[idx];
            isTable = new Descriptor(ctx.Old).IsTable(level);
        }
        if (!Continue(flags, ret))
            return ret;

        if (!isTable || ctx.SkipChildren)
        {
            ulong span = pgt.Granule.LevelSize(level);
            data.Addr = (data.Addr & ~(span - 1)) + span;
            return 0;
        }

        int childId = pgt.Pool.IdOf(new Descriptor(ctx.Old).OutputAddress(pgt.Granule));
        ret = WalkTable(pgt, ref data, childId, level + 1, flags, ref visitor);
        if (!Continue(flags, ret))
            return ret;

        if ((flags & WalkFlags.TablePost) != 0)
            ret = visitor.Visit(ref ctx, WalkFlags.TablePost);

        return Continue(flags, ret) ? 0 : ret;
    }
}
