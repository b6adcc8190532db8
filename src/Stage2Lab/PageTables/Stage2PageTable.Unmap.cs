using System.Numerics;
using Stage2Lab.Arch;

namespace Stage2Lab.PageTables;

/// <summary>kvm_pgtable_stage2_unmap and the freeing of detached or destroyed tables.</summary>
public sealed partial class Stage2PageTable
{
    /// <summary>
    /// kvm_pgtable_stage2_unmap: clear every leaf the range touches (a block partly covered goes whole), clean
    /// cacheable leaves to PoC without FWB, free table pages whose last entry went. With FEAT_TLBIRANGE and FWB
    /// the per-leaf invalidations are deferred to one range invalidation (stage2_unmap_defer_tlb_flush).
    /// </summary>
    public int Unmap(ulong ipa, ulong sizeBytes)
    {
        var visitor = new UnmapVisitor(this);
        int ret = Walker.Walk(this, ipa, sizeBytes, WalkFlags.Leaf | WalkFlags.TablePost, ref visitor);
        if (DeferUnmapTlbFlush)
            FlushVmidRange(ipa, sizeBytes);
        return ret;
    }

    private bool DeferUnmapTlbFlush => _deferUnmapTlbFlush;

    internal readonly struct UnmapVisitor : IWalkVisitor
    {
        private readonly Stage2PageTable _pgt;

        public UnmapVisitor(Stage2PageTable pgt) => _pgt = pgt;

        public int Visit(ref VisitContext ctx, WalkFlags visit) => _pgt.UnmapEntry(ref ctx);
    }

    /// <summary>stage2_unmap_walker.</summary>
    private int UnmapEntry(ref VisitContext ctx)
    {
        ulong old = ctx.Old;
        if ((old & Descriptor.ValidBit) == 0)
        {
            if (old != 0)
            {
                WritePte(ref ctx, 0);
                PutEntry(ref ctx);
            }
            return 0;
        }

        int childId = -1;
        bool needFlush = false;
        bool isTable = new Descriptor(old).IsTable(ctx.Level);
        if (isTable)
        {
            childId = ChildId(old);
            if (Pool.EntryCount(childId) != 0)
                return 0;
        }
        else if (IsCacheable(old))
        {
            needFlush = !_fwb;
        }

        // stage2_unmap_put_pte
        WritePte(ref ctx, 0);
        if (isTable)
        {
            FlushVmidIpa(ctx.Addr, TtlUnknown);
        }
        else
        {
            _counters.Add(Stage2Counter.LeavesRemoved);
            if (!DeferUnmapTlbFlush)
                FlushVmidIpa(ctx.Addr, ctx.Level);
        }
        PutEntry(ref ctx);

        if (needFlush)
            CleanDcache(Granule.LevelSize(ctx.Level));
        if (childId >= 0)
            FreeTable(childId);
        return 0;
    }

    /// <summary>kvm_pgtable_stage2_free_unlinked: drop a detached subtree (its leaves and table pages).</summary>
    internal void FreeUnlinkedTable(int tableId, int parentLevel)
    {
        var visitor = new FreeVisitor(this);
        Walker.WalkUnlinked(this, tableId, parentLevel + 1, Granule.LevelSize(parentLevel), WalkFlags.Leaf | WalkFlags.TablePost, ref visitor);
        FreeTable(tableId);
    }

    /// <summary>
    /// kvm_pgtable_stage2_destroy_range: tear a range down without maintenance (the VM is going away);
    /// the concatenated root pages stay, as kvm_pgtable_stage2_destroy_pgd frees them separately.
    /// </summary>
    public int DestroyRange(ulong ipa, ulong sizeBytes)
    {
        var visitor = new DestroyVisitor(this);
        return Walker.Walk(this, ipa, sizeBytes, WalkFlags.TablePre | WalkFlags.Leaf | WalkFlags.TablePost, ref visitor);
    }

    /// <summary>
    /// stage2_free_walker over a whole range, with the visits of a last-level table's entries done in one
    /// step from its table entry: each non-zero entry puts one reference of its table, each valid one is a
    /// leaf removed; then the table entry's own post-order visit (free the table if nothing holds it). Same
    /// counts, refcounts and frees, in the same order, as a visit per entry.
    /// </summary>
    private readonly struct DestroyVisitor : IWalkVisitor
    {
        private readonly Stage2PageTable _pgt;

        public DestroyVisitor(Stage2PageTable pgt) => _pgt = pgt;

        public int Visit(ref VisitContext ctx, WalkFlags visit)
        {
            if (visit != WalkFlags.TablePre)
                return _pgt.FreeEntry(ref ctx, visit);
            if (ctx.Level != Granule.LastLevel - 1)
                return 0;
            ctx.SkipChildren = true;
            var (nonZero, valid) = CountEntries(_pgt.LastLevelEntries(ref ctx));
            _pgt.Pool.EntryCount(_pgt.ChildId(ctx.Old)) -= nonZero;
            if (valid != 0)
                _pgt._counters.Add(Stage2Counter.LeavesRemoved, valid);
            // The children were visited: the table entry's post-order visit, which the walker skips with them.
            return _pgt.FreeEntry(ref ctx, WalkFlags.TablePost);
        }
    }

    /// <summary>How many of <paramref name="entries"/> are non-zero, and how many valid.</summary>
    private static (int NonZero, int Valid) CountEntries(ReadOnlySpan<ulong> entries)
    {
        int i = 0;
        long zeros = 0;
        ulong valid = 0;
        int lanes = Vector<ulong>.Count;
        if (Vector.IsHardwareAccelerated && entries.Length >= lanes)
        {
            // Equals gives all ones (-1) per equal lane; the valid bit is bit 0, so lanes sum to the count.
            Vector<long> zeroLanes = Vector<long>.Zero;
            Vector<ulong> validLanes = Vector<ulong>.Zero;
            var validBit = new Vector<ulong>(Descriptor.ValidBit);
            for (; i <= entries.Length - lanes; i += lanes)
            {
                var v = new Vector<ulong>(entries.Slice(i, lanes));
                zeroLanes -= Vector.AsVectorInt64(Vector.Equals(v, Vector<ulong>.Zero));
                validLanes += v & validBit;
            }
            zeros = Vector.Sum(zeroLanes);
            valid = Vector.Sum(validLanes);
        }
        for (; i < entries.Length; i++)
        {
            if (entries[i] == 0)
                zeros++;
            valid += entries[i] & Descriptor.ValidBit;
        }
        return (entries.Length - (int)zeros, (int)valid);
    }

    internal readonly struct FreeVisitor : IWalkVisitor
    {
        private readonly Stage2PageTable _pgt;

        public FreeVisitor(Stage2PageTable pgt) => _pgt = pgt;

        public int Visit(ref VisitContext ctx, WalkFlags visit) => _pgt.FreeEntry(ref ctx, visit);
    }

    /// <summary>stage2_free_walker: put every counted leaf; free a table once it holds nothing.</summary>
    private int FreeEntry(ref VisitContext ctx, WalkFlags visit)
    {
        ulong old = ctx.Old;
        if (old == 0)
            return 0;
        if (visit == WalkFlags.Leaf)
        {
            PutEntry(ref ctx);
            if ((old & Descriptor.ValidBit) != 0)
                _counters.Add(Stage2Counter.LeavesRemoved);
            return 0;
        }
        int childId = ChildId(old);
        if (Pool.EntryCount(childId) != 0)
            return 0;
        PutEntry(ref ctx);
        FreeTable(childId);
        WritePte(ref ctx, 0);
        return 0;
    }
}
