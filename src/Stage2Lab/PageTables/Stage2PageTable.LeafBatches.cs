using System.Numerics;
using Stage2Lab.Arch;

namespace Stage2Lab.PageTables;

/// <summary>Leaf enumeration a last-level table at a time.</summary>
public sealed partial class Stage2PageTable
{
    /// <summary>
    /// Every valid leaf overlapping [ipa, ipa+size), in IPA order, as <see cref="VisitLeaves{TSink}(ulong, ulong, ref TSink)"/>
    /// gives them, except that the valid entries of each last-level table come as runs of consecutive pages
    /// (<see cref="IPageLeavesSink.OnPages"/>) and blocks one by one.
    /// </summary>
    public void VisitLeafBatches<TSink>(ulong ipa, ulong sizeBytes, ref TSink sink) where TSink : struct, IPageLeavesSink
    {
        var visitor = new BatchCollector<TSink>(this, sink);
        ulong end = Math.Min(ipa + sizeBytes, Geometry.IpaLimit);
        if (end > ipa)
            Walker.Walk(this, ipa, end - ipa, WalkFlags.TablePre | WalkFlags.Leaf, ref visitor);
        sink = visitor.Sink;
    }

    /// <summary>Every valid leaf of the table, in IPA order, pages in runs.</summary>
    public void VisitLeafBatches<TSink>(ref TSink sink) where TSink : struct, IPageLeavesSink =>
        VisitLeafBatches(0, Geometry.IpaLimit, ref sink);

    /// <summary>
    /// The last-level entries a walk would visit under the table entry <paramref name="ctx"/> (an entry of
    /// the last level but one): from ctx.Addr to the end of the table or of the walk. Entry i maps
    /// ctx.Addr + i pages (the walk's addresses are page-aligned: kvm_pgtable_walk widens the range to pages).
    /// </summary>
    internal Span<ulong> LastLevelEntries(ref VisitContext ctx)
    {
        Granule granule = Granule;
        ulong tableSpan = granule.LevelSize(ctx.Level);
        ulong stop = Math.Min(ctx.End, (ctx.Addr & ~(tableSpan - 1)) + tableSpan);
        int first = granule.IndexAt(ctx.Addr, Granule.LastLevel);
        return Pool.Page(ChildId(ctx.Old)).Slice(first, (int)((stop - ctx.Addr) >> granule.PageShift));
    }

    private struct BatchCollector<TSink> : IWalkVisitor where TSink : struct, IPageLeavesSink
    {
        private readonly Stage2PageTable _pgt;
        public TSink Sink;

        public BatchCollector(Stage2PageTable pgt, TSink sink)
        {
            _pgt = pgt;
            Sink = sink;
        }

        public int Visit(ref VisitContext ctx, WalkFlags visit)
        {
            if (visit == WalkFlags.Leaf)
            {
                if ((ctx.Old & Descriptor.ValidBit) != 0)
                {
                    ulong span = _pgt.Granule.LevelSize(ctx.Level);
                    Sink.OnLeaf(new LeafEntry(ctx.Addr & ~(span - 1), ctx.Level, span, new Descriptor(ctx.Old)));
                }
                return 0;
            }
            // A table entry: above the last level but one, the walk descends as usual; there, this visitor
            // reads the last-level table under it itself and the walk steps over it.
            if (ctx.Level != Granule.LastLevel - 1)
                return 0;
            ctx.SkipChildren = true;
            ReadOnlySpan<ulong> table = _pgt.LastLevelEntries(ref ctx);
            ulong page = _pgt.Granule.PageSize;
            int end = table.Length;
            int idx = 0;
            while (idx < end)
            {
                // A run of valid entries, then the invalid ones after it.
                int run = idx + SameValidity(table[idx..], valid: true);
                if (run > idx)
                    Sink.OnPages(ctx.Addr + (ulong)idx * page, page, table[idx..run]);
                idx = run + SameValidity(table[run..], valid: false);
            }
            return 0;
        }
    }

    /// <summary>How many entries from the first are valid (or, with <paramref name="valid"/> false, are not): a
    /// vector at a time, since a table mapped page by page has pages of 512 valid entries in a row (8,388,608
    /// of them to read back for a 32 GiB BAR).</summary>
    private static int SameValidity(ReadOnlySpan<ulong> entries, bool valid)
    {
        int idx = 0;
        ulong want = valid ? Descriptor.ValidBit : 0;
        if (Vector.IsHardwareAccelerated)
        {
            var validBit = new Vector<ulong>(Descriptor.ValidBit);
            var wanted = new Vector<ulong>(want);
            for (; idx + Vector<ulong>.Count <= entries.Length; idx += Vector<ulong>.Count)
            {
                if (!Vector.EqualsAll(new Vector<ulong>(entries.Slice(idx, Vector<ulong>.Count)) & validBit, wanted))
                    break;
            }
        }
        while (idx < entries.Length && (entries[idx] & Descriptor.ValidBit) == want)
            idx++;
        return idx;
    }
}
