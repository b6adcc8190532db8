using Stage2Lab.Arch;
using Stage2Lab.PageTables;

namespace Stage2Lab.Simulation.Invariants;

/// <summary>The table walk the leaf checks ride on, table refcounts, and reachability of the pool.</summary>
public sealed partial class InvariantChecker
{
    private int[] _stamp = new int[64];
    private int _generation;

    /// <summary>Clips [ipa, ipa+size) to the IPA space (widened to pages, as kvm_pgtable_walk does) and scans it.</summary>
    private void ScanClipped(ulong ipa, ulong sizeBytes, bool leaves, bool refcounts)
    {
        if (_stopped || sizeBytes == 0)
            return;
        Stage2PageTable pgt = Vm.Stage2;
        ulong limit = pgt.Geometry.IpaLimit;
        ulong start = ipa & pgt.Granule.PageMask;
        ulong end = ipa + sizeBytes;
        if (end < ipa || end > limit)
            end = limit;
        if (start >= end)
            return;
        ScanRange(start, end, leaves, refcounts);
    }

    /// <summary>Walks the concatenated roots over [start, end) in IPA order.</summary>
    private void ScanRange(ulong start, ulong end, bool leaves, bool refcounts)
    {
        Stage2PageTable pgt = Vm.Stage2;
        Stage2Geometry geometry = pgt.Geometry;
        int startLevel = geometry.StartLevel;
        // Each concatenated root page translates entries × LevelSize(startLevel) bytes of IPA.
        ulong rootSpan = pgt.Granule.LevelSize(startLevel) << pgt.Granule.BitsPerLevel;
        int first = geometry.RootPageIndex(start);
        int last = geometry.RootPageIndex(end - 1);
        for (int r = first; r <= last && !_stopped; r++)
        {
            int rootId = pgt.Inspect.RootId(r);
            ulong rootBase = (ulong)r * rootSpan;
            if (refcounts && !CheckTablePage(rootId, startLevel, rootBase, rootSpan))
                continue;
            ScanTable(rootId, startLevel, rootBase, start, end, leaves, refcounts);
        }
    }

    private void ScanTable(int tableId, int level, ulong tableBase, ulong start, ulong end, bool leaves, bool refcounts)
    {
        // A last-level table holds no table descriptors: without leaf checks there is nothing below to visit
        // (the caller has checked this page's own refcount).
        if (!leaves && level == Granule.LastLevel)
            return;
        Stage2PageTable pgt = Vm.Stage2;
        Granule granule = pgt.Granule;
        TableInspector tables = pgt.Inspect;
        ReadOnlySpan<ulong> entries = tables.Entries(tableId);
        int shift = granule.LevelShift(level);
        ulong span = 1UL << shift;
        int firstIndex = start <= tableBase ? 0 : (int)((start - tableBase) >> shift);
        ulong lastOffset = (end - 1 - tableBase) >> shift;
        int lastIndex = lastOffset >= (ulong)entries.Length ? entries.Length - 1 : (int)lastOffset;
        ulong addressMask = tables.AddressMask;

        for (int i = firstIndex; i <= lastIndex; i++)
        {
            ulong raw = entries[i];
            if ((raw & Descriptor.ValidBit) == 0)
                continue;
            ulong ipa = tableBase + ((ulong)i << shift);
            if (level < Granule.LastLevel && (raw & Descriptor.TypeBit) != 0)
            {
                int childId = ChildTableId(raw & addressMask, level + 1, ipa, span);
                if (childId < 0)
                    continue;
                if (refcounts && !CheckTablePage(childId, level + 1, ipa, span))
                    continue;
                ScanTable(childId, level + 1, ipa, start, end, leaves, refcounts);
            }
            else if (leaves)
            {
                // Extend a run of leaves that differ only in AF and map consecutive PAs.
                int j = i + 1;
                ulong nextPa = (raw & addressMask) + span;
                const ulong sameBits = ~Descriptor.AccessFlag;
                while (j <= lastIndex && ((entries[j] ^ raw) & sameBits & ~addressMask) == 0 && (entries[j] & addressMask) == nextPa)
                {
                    nextPa += span;
                    j++;
                }
                CheckLeafRun(ipa, level, span, j - i, entries, i);
                i = j - 1;
            }
            if (_stopped)
                return;
        }
    }

    /// <summary>
    /// A table descriptor must lead to a live pool page holding entries of the next level (kvm_pte_follow of a
    /// page the walker allocated, not yet freed). Returns its id, or -1 after reporting.
    /// </summary>
    private int ChildTableId(ulong tablePa, int childLevel, ulong ipa, ulong span)
    {
        TableInspector pool = Vm.Stage2.Inspect;
        if (!pool.TryGetId(tablePa, out int id))
        {
            Report(InvariantKind.TablesReachable, ipa, span, null,
                $"L{childLevel - 1} table descriptor for IPA [0x{ipa:x}, 0x{ipa + span:x}) points to PA 0x{tablePa:x}, which is no table page");
            return -1;
        }
        if (!pool.IsLive(id))
        {
            Report(InvariantKind.TablesReachable, ipa, span, null,
                $"L{childLevel - 1} table descriptor for IPA [0x{ipa:x}, 0x{ipa + span:x}) points to table page {id} (PA 0x{tablePa:x}), which has been freed",
                id);
            return -1;
        }
        if (pool.LevelOf(id) != childLevel)
        {
            Report(InvariantKind.TablesReachable, ipa, span, null,
                $"L{childLevel - 1} table descriptor for IPA [0x{ipa:x}, 0x{ipa + span:x}) points to table page {id}, allocated for L{pool.LevelOf(id)} entries, not L{childLevel}",
                id);
            return -1;
        }
        return id;
    }

    /// <summary>The refcount of one table page against its non-zero entries. False when the page is not live.</summary>
    private bool CheckTablePage(int id, int level, ulong tableBase, ulong tableSpan)
    {
        TableInspector pool = Vm.Stage2.Inspect;
        if (!pool.IsLive(id))
        {
            Report(InvariantKind.TablesReachable, tableBase, tableSpan, null, $"root table page {id} of IPA [0x{tableBase:x}, 0x{tableBase + tableSpan:x}) has been freed", id);
            return false;
        }
        ReadOnlySpan<ulong> entries = pool.Entries(id);
        // Vectorised count of the zero entries; the refcount is "non-zero entries" (stage2_pte_is_counted).
        int nonZero = entries.Length - entries.Count(0UL);
        int count = pool.RefCount(id);
        if (count != nonZero)
        {
            Report(InvariantKind.TableRefcounts, tableBase, tableSpan, null,
                $"L{level} table page {id} (PA 0x{pool.PaOf(id):x}) for IPA [0x{tableBase:x}, 0x{tableBase + tableSpan:x}) has refcount {count} but {nonZero} non-zero entries",
                id);
        }
        return true;
    }

    /// <summary>
    /// Marks every table page reachable from the roots (generation stamps, so nothing is cleared), checking
    /// each is live, of the right level and reached once; then compares with the pool's live pages.
    /// </summary>
    private void ScanReachability()
    {
        Stage2PageTable pgt = Vm.Stage2;
        TableInspector pool = pgt.Inspect;
        if (_stamp.Length < pool.PageIdLimit)
            Array.Resize(ref _stamp, Math.Max(pool.PageIdLimit, _stamp.Length * 2));
        if (++_generation == int.MaxValue)
        {
            Array.Clear(_stamp);
            _generation = 1;
        }
        int gen = _generation;
        int startLevel = pgt.Geometry.StartLevel;
        ulong rootSpan = pgt.Granule.LevelSize(startLevel) << pgt.Granule.BitsPerLevel;
        long reached = 0;
        for (int r = 0; r < pool.RootCount && !_stopped; r++)
        {
            int rootId = pool.RootId(r);
            ulong rootBase = (ulong)r * rootSpan;
            if (!pool.IsLive(rootId))
            {
                Report(InvariantKind.TablesReachable, rootBase, rootSpan, null, $"root table page {rootId} has been freed", rootId);
                continue;
            }
            _stamp[rootId] = gen;
            reached++;
            if (startLevel < Granule.LastLevel)
                reached += MarkChildren(rootId, startLevel, rootBase, gen);
        }
        if (_stopped || reached == pool.LivePages)
            return;
        // Reached pages are distinct and live, so a count mismatch means some live page was not reached.
        for (int id = 0; id < pool.PageIdLimit && !_stopped; id++)
        {
            if (pool.IsLive(id) && _stamp[id] != gen)
            {
                Report(InvariantKind.TablesReachable, 0, 0, null,
                    $"L{pool.LevelOf(id)} table page {id} (PA 0x{pool.PaOf(id):x}) is live (refcount {pool.RefCount(id)}) but no table descriptor reaches it: leaked ({pool.LivePages} live pages, {reached} reachable)",
                    id);
            }
        }
    }

    /// <summary>Marks the tables below one table page; returns how many pages it reached.</summary>
    private long MarkChildren(int tableId, int level, ulong tableBase, int gen)
    {
        Stage2PageTable pgt = Vm.Stage2;
        TableInspector pool = pgt.Inspect;
        ReadOnlySpan<ulong> entries = pool.Entries(tableId);
        int shift = pgt.Granule.LevelShift(level);
        ulong span = 1UL << shift;
        ulong addressMask = pool.AddressMask;
        long reached = 0;
        for (int i = 0; i < entries.Length; i++)
        {
            ulong raw = entries[i];
            if ((raw & (Descriptor.ValidBit | Descriptor.TypeBit)) != (Descriptor.ValidBit | Descriptor.TypeBit))
                continue;
            ulong ipa = tableBase + ((ulong)i << shift);
            int childId = ChildTableId(raw & addressMask, level + 1, ipa, span);
            if (childId < 0)
            {
                if (_stopped)
                    return reached;
                continue;
            }
            if (_stamp[childId] == gen)
            {
                Report(InvariantKind.TablesReachable, ipa, span, null,
                    $"table page {childId} is reached twice (again from the L{level} entry for IPA 0x{ipa:x})", childId);
                if (_stopped)
                    return reached;
                continue;
            }
            _stamp[childId] = gen;
            reached++;
            if (level + 1 < Granule.LastLevel)
                reached += MarkChildren(childId, level + 1, ipa, gen);
        }
        return reached;
    }
}
