using Stage2Lab.Arch;

namespace Stage2Lab.Tests.PageTables;

/// <summary>What the reference model knows about one mapped page: its PA and the leaf it belongs to.</summary>
internal readonly record struct RefPage(
    ulong Pa,
    ulong LeafStart,
    ulong LeafSize,
    bool R,
    bool W,
    bool X,
    MemoryType MemType,
    bool Af)
{
    public override string ToString() => FormattableString.Invariant(
        $"PA 0x{Pa:x} in leaf 0x{LeafStart:x}+0x{LeafSize:x} {(R ? "r" : "-")}{(W ? "w" : "-")}{(X ? "x" : "-")} {MemType} AF={(Af ? 1 : 0)}");
}

/// <summary>
/// A deliberately naive model of a KVM stage-2 table: a dictionary from page-granule IPA to the page's PA and
/// leaf. It knows nothing of table pages or walks; it follows the rules stated in stage2-model.md §2 and
/// s2ops.md "Semantics worth knowing" (plain walks, FEAT_XNX-era relax, unbounded split cache).
/// </summary>
internal sealed class ReferenceStage2
{
    private readonly Granule _granule;
    private readonly int _startLevel;
    private readonly ulong _limit;
    private readonly ulong _page;

    public ReferenceStage2(Granule granule, int ipaBits)
    {
        _granule = granule;
        _page = granule.PageSize;
        _limit = 1UL << ipaBits;
        // kvm_get_vtcr: levels = max(2, (ipa_bits - 8) / (PAGE_SHIFT - 3)), start level = 4 - levels.
        int levels = Math.Max(2, (ipaBits - 8) / (granule.PageShift - 3));
        _startLevel = 4 - levels;
    }

    /// <summary>Page IPA → what maps it. Absent = unmapped.</summary>
    public Dictionary<ulong, RefPage> Pages { get; } = new();

    public ulong PageSize => _page;

    /// <summary>The level of a leaf of <paramref name="size"/> bytes (4K: 1G→1, 2M→2, 4K→3, ...).</summary>
    public int LevelOf(ulong size)
    {
        for (int level = 0; level <= 3; level++)
        {
            if (LevelSpan(level) == size)
                return level;
        }
        throw new ArgumentOutOfRangeException(nameof(size));
    }

    private ulong LevelSpan(int level) => 1UL << ((_granule.PageShift - 3) * (4 - level) + 3);

    /// <summary>KVM_PGTABLE_MIN_BLOCK_LEVEL: 1 with 4K pages, 2 with 16K/64K; the last level holds pages.</summary>
    private bool LevelMayHoldLeaf(int level) => level >= (_granule.PageShift == 12 ? 1 : 2) && level <= 3;

    /// <summary>kvm_pgtable_walk's range: page-aligned down/up; false (→ -ERANGE) beyond 1 &lt;&lt; ipa_bits.</summary>
    private bool TryRange(ulong ipa, ulong size, out ulong start, out ulong end)
    {
        start = ipa & ~(_page - 1);
        end = start + size;
        if (end < start)
            return false;
        end = (end + _page - 1) & ~(_page - 1);
        return end >= start && start <= _limit && end <= _limit;
    }

    // ---------------- operations ----------------

    public int Map(ulong ipa, ulong size, ulong pa, Prot prot)
    {
        bool device = (prot & Prot.Device) != 0, nc = (prot & Prot.NormalNC) != 0;
        if ((device && nc) || ((device || nc) && (prot & Prot.X) != 0))
            return -Errno.EINVAL;
        if (!TryRange(ipa, size, out ulong start, out ulong end))
            return -Errno.ERANGE;

        MemoryType memType = device ? MemoryType.DeviceNGnRE : nc ? MemoryType.NormalNonCacheable : MemoryType.Normal;
        ulong phys0 = pa & ~(_page - 1);
        for (ulong addr = start; addr < end;)
        {
            ulong phys = phys0 + (addr - start);
            ulong leafSize = LargestLeaf(addr, phys, end);

            if (Pages.TryGetValue(addr, out RefPage old))
            {
                if (old.LeafSize > leafSize)
                {
                    // A smaller map inside a block: the whole block goes, only the new mapping is installed.
                    RemoveLeaf(old);
                }
                else if (old.LeafSize == leafSize && old.Pa == phys && old.MemType == memType && old.Af)
                {
                    // Same leaf but for R/W/X: a plain walk leaves it as it is (stage2_pte_needs_update).
                    addr += leafSize;
                    continue;
                }
            }
            // Whatever smaller leaves stood here are replaced (a block over a table frees the table).
            RemovePages(addr, addr + leafSize);
            Install(addr, leafSize, phys, (prot & Prot.R) != 0, (prot & Prot.W) != 0, (prot & Prot.X) != 0, memType);
            addr += leafSize;
        }
        return 0;
    }

    public int Unmap(ulong ipa, ulong size)
    {
        if (!TryRange(ipa, size, out ulong start, out ulong end))
            return -Errno.ERANGE;
        foreach (RefPage leaf in LeavesTouching(start, end))
            RemoveLeaf(leaf);
        return 0;
    }

    public int WrProtect(ulong ipa, ulong size)
    {
        if (!TryRange(ipa, size, out ulong start, out ulong end))
            return -Errno.ERANGE;
        foreach (RefPage leaf in LeavesTouching(start, end))
            UpdateLeaf(leaf, p => p with { W = false });
        return 0;
    }

    /// <summary>relax_perms: R and W are added; execute becomes exactly what prot says.</summary>
    public int Relax(ulong ipa, Prot prot)
    {
        if (!TryRange(ipa, 1, out ulong start, out ulong end))
            return -Errno.ERANGE;
        foreach (RefPage leaf in LeavesTouching(start, end))
        {
            UpdateLeaf(leaf, p => p with
            {
                R = p.R || (prot & Prot.R) != 0,
                W = p.W || (prot & Prot.W) != 0,
                X = (prot & Prot.X) != 0,
            });
        }
        return 0;
    }

    /// <summary>test_clear_young(mkold): whether any leaf touched was young; all of them become old.</summary>
    public int MkOld(ulong ipa, ulong size, out bool young)
    {
        young = false;
        if (!TryRange(ipa, size, out ulong start, out ulong end))
            return -Errno.ERANGE;
        foreach (RefPage leaf in LeavesTouching(start, end))
        {
            young |= leaf.Af;
            UpdateLeaf(leaf, p => p with { Af = false });
        }
        return 0;
    }

    public int MkYoung(ulong ipa)
    {
        if (!TryRange(ipa, 1, out ulong start, out ulong end))
            return -Errno.ERANGE;
        foreach (RefPage leaf in LeavesTouching(start, end))
            UpdateLeaf(leaf, p => p with { Af = true });
        return 0;
    }

    /// <summary>split with an unbounded cache: every block touched becomes pages (R/W/X kept, normal WB, AF set).</summary>
    public int Split(ulong ipa, ulong size)
    {
        if (!TryRange(ipa, size, out ulong start, out ulong end))
            return -Errno.ERANGE;
        foreach (RefPage leaf in LeavesTouching(start, end))
        {
            if (leaf.LeafSize == _page)
                continue;
            for (ulong p = leaf.LeafStart; p < leaf.LeafStart + leaf.LeafSize; p += _page)
            {
                Pages[p] = new RefPage(leaf.Pa + (p - leaf.LeafStart), p, _page, leaf.R, leaf.W, leaf.X, MemoryType.Normal, Af: true);
            }
        }
        return 0;
    }

    // ---------------- queries ----------------

    /// <summary>Every leaf, in IPA order, as the entry of its first page.</summary>
    public List<RefPage> Leaves()
    {
        var leaves = new List<RefPage>();
        foreach (var (ipa, page) in Pages)
        {
            if (ipa == page.LeafStart)
                leaves.Add(page);
        }
        leaves.Sort((a, b) => a.LeafStart.CompareTo(b.LeafStart));
        return leaves;
    }

    // ---------------- helpers ----------------

    /// <summary>kvm_block_mapping_supported, greedy from the start level down: the leaf level may hold a leaf,
    /// the leaf fits in [addr, end), and addr and phys are both aligned to it.</summary>
    private ulong LargestLeaf(ulong addr, ulong phys, ulong end)
    {
        for (int level = _startLevel; level <= 3; level++)
        {
            ulong span = LevelSpan(level);
            if (LevelMayHoldLeaf(level) && span <= end - addr && ((addr | phys) & (span - 1)) == 0)
                return span;
        }
        throw new InvalidOperationException("a page always fits");
    }

    /// <summary>The first-page entries of every leaf with at least one page in [start, end), in IPA order.</summary>
    public List<RefPage> LeavesTouching(ulong start, ulong end)
    {
        var result = new List<RefPage>();
        if ((end - start) / _page > (ulong)Pages.Count)
        {
            foreach (var (ipa, page) in Pages)
            {
                if (ipa == page.LeafStart && page.LeafStart < end && page.LeafStart + page.LeafSize > start)
                    result.Add(page);
            }
            result.Sort((a, b) => a.LeafStart.CompareTo(b.LeafStart));
            return result;
        }
        for (ulong p = start; p < end;)
        {
            if (Pages.TryGetValue(p, out RefPage page))
            {
                result.Add(Pages[page.LeafStart]);
                p = page.LeafStart + page.LeafSize;
            }
            else
            {
                p += _page;
            }
        }
        return result;
    }

    private void Install(ulong leafStart, ulong leafSize, ulong phys, bool r, bool w, bool x, MemoryType memType)
    {
        for (ulong p = leafStart; p < leafStart + leafSize; p += _page)
            Pages[p] = new RefPage(phys + (p - leafStart), leafStart, leafSize, r, w, x, memType, Af: true);
    }

    private void RemoveLeaf(RefPage anyPageOfLeaf) =>
        RemovePages(anyPageOfLeaf.LeafStart, anyPageOfLeaf.LeafStart + anyPageOfLeaf.LeafSize);

    private void RemovePages(ulong start, ulong end)
    {
        if ((end - start) / _page > (ulong)Pages.Count)
        {
            foreach (ulong ipa in Pages.Keys.Where(k => k >= start && k < end).ToList())
                Pages.Remove(ipa);
            return;
        }
        for (ulong p = start; p < end; p += _page)
            Pages.Remove(p);
    }

    private void UpdateLeaf(RefPage anyPageOfLeaf, Func<RefPage, RefPage> change)
    {
        for (ulong p = anyPageOfLeaf.LeafStart; p < anyPageOfLeaf.LeafStart + anyPageOfLeaf.LeafSize; p += _page)
            Pages[p] = change(Pages[p]);
    }
}
