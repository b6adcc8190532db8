using System.Runtime.CompilerServices;
using Stage2Lab.Arch;
using Stage2Lab.PageTables;

namespace Stage2Lab.Simulation.Tlb;

/// <summary>The nested (two-dimensional) walk of an L2 miss.</summary>
public sealed partial class GuestTlbModel
{
    /// <summary>
    /// Walks stage 1 for <paramref name="gva"/>; every stage-1 table address and the final IPA are translated
    /// through stage 2 (VMSAv8-64 nested translation, Arm ARM D8 "Stage 2 translation"): with n stage-1 levels and
    /// m stage-2 levels that is n(m+1) + m = (n+1)(m+1)-1 descriptor reads, fewer when a walk cache or a stage-2
    /// entry in the L2 answers part of it. The combined entry covers the smaller of the stage-1 and stage-2 leaf
    /// (the Arm pseudocode's CombineS1S2Desc; gem5 Stage2LookUp::mergeTe).
    /// </summary>
    private void Walk(ulong gva, AccessKind kind)
    {
        int region = Guest.FindVa(gva);
        if (region < 0)
        {
            _counters.Add(TlbStat.Stage1Faults);
            return;
        }
        ref readonly GuestStage1.RegionInfo r = ref Guest.Region(region);
        int start = _s1Start;
        int leaf = r.LeafLevel;
        _counters.Add(TlbStat.Walks);

        // The deepest stage-1 table descriptor the walk cache holds: the walk resumes below it, with the next
        // table's PA already known (no stage-2 translation for that table).
        int resume = start;
        bool resumeTablePaKnown = false;
        if (_stage1WalkCache)
        {
            for (int level = leaf - 1; level >= start; level--)
            {
                if (_l2.Lookup(gva, TlbEntryKind.Stage1Table, _s1Shifts[level]))
                {
                    resume = level + 1;
                    resumeTablePaKnown = true;
                    _counters.Add(TlbStat.L2PartialHits);
                    break;
                }
            }
        }

        long refs = 0;
        for (int level = resume; level <= leaf; level++)
        {
            refs++;
            // The cached descriptor above the resume level gave that table's PA: no stage-2 translation for it.
            if (level != resume || !resumeTablePaKnown)
                refs += TranslateStage2(Guest.TableIpa(in r, level, gva), isTable: true).References;
            if (level < leaf && _stage1WalkCache)
                InsertL2(gva, TlbEntryKind.Stage1Table, _s1Shifts[level]);
        }
        long refsWithoutCaches = TablePathCostWithoutCaches(in r, gva, start, leaf);

        ulong ipa = r.Ipa + (gva - r.Va);
        Stage2Step final = TranslateStage2(ipa, isTable: false);
        refs += final.References;
        refsWithoutCaches += final.ReferencesWithoutCaches;
        _counters.Add(TlbStat.WalkMemRefs, refs);
        _counters.Add(TlbStat.WalkMemRefsWithoutCaches, refsWithoutCaches);
        _counters.Add(TlbStat.WalksTerminatedAtLevel0 + leaf);
        if (!final.Mapped)
        {
            _counters.Add(TlbStat.Stage2FaultWalks);
            return;
        }

        int combinedShift = Math.Min(r.EntryShift, final.LeafShift);
        if (_pageSizeStats[combinedShift] >= 0)
            _counters.Add((TlbStat)_pageSizeStats[combinedShift]);
        int l2Shift = _l2Fit[combinedShift];
        if (l2Shift >= 0)
            InsertL2(gva, TlbEntryKind.Combined, l2Shift);
        FillL1(gva, kind == AccessKind.Exec, combinedShift);
    }

    /// <summary>One stage-2 translation inside a walk: the references it costs with the L2's stage-2 entries and
    /// walk cache, and without them (the depth of the real leaf).</summary>
    private readonly record struct Stage2Step(bool Mapped, int LeafShift, int References, int ReferencesWithoutCaches);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Stage2Step TranslateStage2(ulong ipa, bool isTable)
    {
        int start = _s2Start;
        if (_stage2LeafShifts != 0)
        {
            if (_l2.LookupAnySize(ipa, TlbEntryKind.Stage2Leaf, out int cachedShift))
            {
                _counters.Add(TlbStat.Stage2Hits);
                return new Stage2Step(true, cachedShift, 0, _s2LevelOfShift[cachedShift] - start + 1);
            }
            _counters.Add(TlbStat.Stage2Misses);
        }

        // The real stage-2 table decides where the walk ends (Stage2PageTable.Translate is the hardware walk).
        int leaf = _stage2Leaves.LeafLevel(ipa, out int faultLevel);
        if (leaf < 0)
            return Stage2Unmapped(isTable, faultLevel);

        // A permission fault still finds the leaf: the walk's cost and the entry are the same.
        int depth = leaf - start + 1;
        int resume = start;
        if (_stage2WalkCache)
        {
            for (int level = leaf - 1; level >= start; level--)
            {
                if (_l2.Lookup(ipa, TlbEntryKind.Stage2Table, _s2Shifts[level]))
                {
                    resume = level + 1;
                    _counters.Add(TlbStat.Stage2PartialHits);
                    break;
                }
            }
            for (int level = resume; level < leaf; level++)
                InsertL2(ipa, TlbEntryKind.Stage2Table, _s2Shifts[level]);
        }
        _counters.Add(TlbStat.Stage2Walks);
        _counters.Add(TlbStat.Stage2WalksTerminatedAtLevel0 + leaf);
        int leafShift = _s2Shifts[leaf];
        if ((_stage2LeafShifts >> leafShift & 1) != 0)
        {
            InsertL2(ipa, TlbEntryKind.Stage2Leaf, leafShift);
            _counters.Add(TlbStat.Stage2Inserts);
        }
        return new Stage2Step(true, leafShift, leaf - resume + 1, depth);
    }

    private Stage2Step Stage2Unmapped(bool isTable, int faultLevel)
    {
        int start = _s2Start;
        if (isTable)
        {
            // Assumption (docs/tlb-model.md): a guest table the host has not mapped yet is charged as a
            // full-depth stage-2 walk to a page, the leaf KVM's fault would most plainly install.
            _counters.Add(TlbStat.TableIpaUnmapped);
            int full = Granule.LastLevel - start + 1;
            return new Stage2Step(true, _s2Shifts[Granule.LastLevel], full, full);
        }
        int toFault = Math.Max(1, faultLevel - start + 1);
        return new Stage2Step(false, 0, toFault, toFault);
    }

    /// <summary>
    /// What the stage-1 part of a walk of <paramref name="gva"/> reads with no cache: one descriptor per level plus
    /// the full stage-2 depth of each table's IPA. The tables on the path are fixed by the VA's last-table prefix
    /// and their depths change only when stage 2 is invalidated, so the sum is memoized (simulator-side) per
    /// prefix and stage-2 generation.
    /// </summary>
    private long TablePathCostWithoutCaches(in GuestStage1.RegionInfo region, ulong gva, int start, int leaf)
    {
        int prefixShift = leaf == start ? 63 : _s1Shifts[leaf - 1];
        ulong key = ((gva >> prefixShift) << 2 | (uint)leaf) + 1;
        // Neighbouring prefixes take neighbouring slots (four to a cache line): a working set of tables stays
        // compact and collides only 2^PathMemoBits prefixes apart.
        ref PathMemoSlot slot = ref _pathMemo[(int)(((gva >> prefixShift) ^ ((ulong)leaf << (PathMemoBits - 2))) & (PathMemoEntries - 1))];
        int generation = _stage2Leaves.Generation;
        if (_memoize && slot.Key == key && slot.Generation == generation)
            return slot.Cost;
        int cost = 0;
        bool allMapped = true;
        for (int level = start; level <= leaf; level++)
        {
            int depth = Stage2Depth(Guest.TableIpa(in region, level, gva), out bool mapped);
            cost += 1 + depth;
            allMapped &= mapped;
        }
        // An unmapped table's cost is an assumption that a later fault (with no TLBI) changes: not remembered.
        if (!allMapped)
            return cost;
        slot = new PathMemoSlot { Key = key, Generation = generation, Cost = cost };
        return cost;
    }

    private struct PathMemoSlot
    {
        public ulong Key;
        public int Generation;
        public int Cost;
    }

    /// <summary>Stage-2 descriptor reads a walk of <paramref name="ipa"/> needs with no cache at all.</summary>
    private int Stage2Depth(ulong ipa, out bool mapped)
    {
        int start = _s2Start;
        int leaf = _stage2Leaves.LeafLevel(ipa, out _);
        mapped = leaf >= 0;
        return leaf < 0 ? Granule.LastLevel - start + 1 : leaf - start + 1;
    }

    private void InsertL2(ulong address, TlbEntryKind kind, int shift)
    {
        _l2.Insert(address, kind, shift);
        _counters.Add(TlbStat.L2Inserts);
    }
}
