using System.Numerics;
using Stage2Lab.Arch;

namespace Stage2Lab.PageTables;

/// <summary>kvm_phys_addr_ioremap's loop of one-page kvm_pgtable_stage2_map calls, done in one walk.</summary>
public sealed partial class Stage2PageTable
{
    /// <summary>
    /// Exactly what <c>for (addr = ipa; addr &lt; ipa + sizeBytes; addr += page, pa += page) { ret = Map(addr,
    /// page, pa, prot, cache); if (ret != 0) return ret; } return 0;</c> does — kvm_phys_addr_ioremap (5.10-rc1 →
    /// 5.13 mmu.c) mapping a VM_PFNMAP VMA at slot creation — leaving the same descriptors, table pages (ids in
    /// the same order), refcounts, counters and cache use, and failing at the same page with the same state
    /// behind it; but in one walk over the range instead of one walk per page.
    /// <para>
    /// It is not a range map: a single kvm_pgtable_stage2_map over the range would install blocks where IPA
    /// and PA allow, while a one-page call never can (a block is larger than its range). So the walk refuses
    /// leaves above the last level, as a one-page call's stage2_leaf_mapping_allowed does, and breaks blocks
    /// and installs tables where the first page under them would. Each last-level table is then filled by
    /// <see cref="PageByPageVisitor"/> in one pass: an empty entry gets its page leaf directly, with the
    /// writes, refcount and cache maintenance a one-page call spends on an empty entry; any other entry
    /// goes through stage2_map_walker_try_leaf as the one-page call would.
    /// </para>
    /// </summary>
    public int MapPageByPage(ulong ipa, ulong sizeBytes, ulong pa, Prot prot, MemoryCache? cache)
    {
        // The loop's condition `addr < ipa + size`: no iteration for an empty or wrapping range.
        if (ipa + sizeBytes <= ipa)
            return 0;
        int shift = Granule.PageShift;
        ulong calls = (sizeBytes >> shift) + ((sizeBytes & ~Granule.PageMask) != 0 ? 1UL : 0);

        // Every call would check prot first (kvm_pgtable_stage2_map → stage2_set_prot_attr): the first fails.
        int ret = LeafAttributes.FromProt(prot, Features.Fwb, out ulong attr);
        if (ret != 0)
            return ret;

        // Each call maps the page holding its (unaligned) IPA; kvm_pgtable_walk refuses, with -ERANGE and no
        // change, the first page that does not end within BIT(ia_bits). The ones before it are mapped.
        ulong start = ipa & Granule.PageMask;
        ulong limit = Geometry.IpaLimit;
        ulong inside = start >= limit ? 0 : Math.Min(calls, (limit - start) >> shift);
        if (inside > 0)
        {
            // As Map: 5.12-5.15 kvm_pgtable_walk stopped on any error, -EAGAIN included.
            WalkFlags flags = WalkFlags.TablePre | WalkFlags.Leaf;
            if (Api == Stage2ApiRevision.V5_12)
                flags |= WalkFlags.HandleFault;
            // Call k maps the page at start + k*page to (pa + k*page) & PAGE_MASK = (pa & PAGE_MASK) + k*page,
            // which is where the walk's stage2_map_walker_phys_addr puts it. Its IPA argument is ipa + k*page:
            // the page's own address when ipa is page-aligned (see Stage2ApiRevision.V5_10), never otherwise.
            var visitor = new PageByPageVisitor(this, pa & Granule.PageMask, attr, cache, replaceOwnPage: ipa == start);
            ret = Walker.Walk(this, start, inside << shift, flags, ref visitor);
            if (ret != 0)
                return ret;
        }
        return inside < calls ? -Errno.ERANGE : 0;
    }

    /// <summary>The walk of <see cref="MapPageByPage"/>: stage2_map_data with force_pte (a one-page range
    /// admits no block), and the last-level entries under each table done in one pass.</summary>
    internal struct PageByPageVisitor : IWalkVisitor
    {
        private readonly Stage2PageTable _pgt;
        private readonly ulong _phys;
        private readonly ulong _attr;
        private readonly MemoryCache? _cache;
        private readonly bool _replaceOwnPage;

        public PageByPageVisitor(Stage2PageTable pgt, ulong phys, ulong attr, MemoryCache? cache, bool replaceOwnPage)
        {
            _pgt = pgt;
            _phys = phys;
            _attr = attr;
            _cache = cache;
            _replaceOwnPage = replaceOwnPage;
        }

        public int Visit(ref VisitContext ctx, WalkFlags visit)
        {
            int ret = visit == WalkFlags.TablePre
                ? _pgt.MapTablePre(ref ctx, _phys, _attr, forcePte: true, ReplaceAt(ctx.Addr))
                : _pgt.MapLeaf(ref ctx, _phys, _attr, forcePte: true, _cache, ReplaceAt(ctx.Addr));
            if (ret != 0 || ctx.Level != Granule.LastLevel - 1)
                return ret;
            // The entry is now a table (an existing one, or the one stage2_map_walk_leaf just installed for the
            // first page under it): map the pages under it here, and let the walk move on.
            ulong entry = ctx.Table[ctx.Index];
            if (!new Descriptor(entry).IsTable(ctx.Level))
                return 0;
            ctx.SkipChildren = true;
            return FillLastLevel(ref ctx, _pgt.ChildId(entry));
        }

        /// <summary>The IPA argument of the one-page call that maps <paramref name="pageIpa"/>.</summary>
        private readonly ulong ReplaceAt(ulong pageIpa) => _replaceOwnPage ? pageIpa : ulong.MaxValue;

        /// <summary>The one-page calls for the pages of [ctx.Addr, ctx.End) under the table entry ctx.</summary>
        private readonly int FillLastLevel(ref VisitContext parent, int tableId)
        {
            Stage2PageTable pgt = _pgt;
            Granule granule = pgt.Granule;
            const int level = Granule.LastLevel;
            ulong page = granule.PageSize;
            ulong parentSpan = granule.LevelSize(parent.Level);
            ulong stop = Math.Min(parent.End, (parent.Addr & ~(parentSpan - 1)) + parentSpan);
            Span<ulong> table = pgt.Pool.Page(tableId);
            int first = granule.IndexAt(parent.Addr, level);
            int end = first + (int)((stop - parent.Addr) >> granule.PageShift);

            // kvm_init_valid_leaf_pte for a page: the address, the attributes, valid and page type.
            ulong template = Descriptor.Leaf(0, _attr, level, granule).Raw;
            ulong addressMask = pgt.AddressMask;
            ulong addr = parent.Addr;
            ulong phys = _phys + (addr - parent.Start);
            long fresh = 0;
            int ret = 0;
            int idx = first;
            while (idx < end)
            {
                // A run of empty entries (all of a fresh table) is written a vector at a time.
                int filled = FillEmpty(table.Slice(idx, end - idx), phys, page, addressMask, template);
                idx += filled;
                fresh += filled;
                addr += (ulong)filled * page;
                phys += (ulong)filled * page;
                if (idx == end)
                    break;
                ulong old = table[idx];
                // Anything already there: the one-page call's stage2_map_walk_leaf on it, unchanged.
                var ctx = new VisitContext
                {
                    Table = table,
                    TableId = tableId,
                    Index = idx,
                    Old = old,
                    Start = parent.Start,
                    Addr = addr,
                    End = parent.End,
                    Level = level,
                    Flags = parent.Flags,
                };
                ret = pgt.MapLeaf(ref ctx, _phys, _attr, forcePte: true, _cache, ReplaceAt(addr));
                if (!Walker.Continue(parent.Flags, ret))
                    break;
                ret = 0;
                idx++;
                addr += page;
                phys += page;
            }
            pgt.CountFreshPages(tableId, template, fresh, parent.Flags);
            return ret;
        }

        /// <summary>
        /// Writes page leaves into the leading empty entries of <paramref name="entries"/> (entry i maps
        /// <paramref name="phys"/> + i pages) and returns how many: up to the first entry that is not empty.
        /// </summary>
        private static int FillEmpty(Span<ulong> entries, ulong phys, ulong page, ulong addressMask, ulong template)
        {
            int i = 0;
            int lanes = Vector<ulong>.Count;
            if (Vector.IsHardwareAccelerated && entries.Length >= lanes)
            {
                Vector<ulong> pas = new Vector<ulong>(phys) + Vector.Multiply(LaneIndices, page);
                var step = new Vector<ulong>((ulong)lanes * page);
                var mask = new Vector<ulong>(addressMask);
                var leaf = new Vector<ulong>(template);
                for (; i <= entries.Length - lanes; i += lanes, pas += step)
                {
                    Span<ulong> chunk = entries.Slice(i, lanes);
                    if (!Vector.EqualsAll(new Vector<ulong>(chunk), Vector<ulong>.Zero))
                        break;
                    ((pas & mask) | leaf).CopyTo(chunk);
                }
                phys += (ulong)i * page;
            }
            for (; i < entries.Length && entries[i] == 0; i++, phys += page)
                entries[i] = (phys & addressMask) | template;
            return i;
        }

        // 0, 1, 2, ... one per lane.
        private static readonly Vector<ulong> LaneIndices = Vector<ulong>.Indices;
    }

    /// <summary>
    /// What a one-page map spends on an empty last-level entry, for <paramref name="pages"/> of them:
    /// stage2_map_walker_try_leaf finds no valid leaf, so stage2_try_break_pte only writes the locked marker
    /// (no invalidation, no reference to drop), the new leaf gets the cache maintenance of
    /// stage2_map_walker_try_leaf (clean to PoC if cacheable, I-cache if executable), and stage2_make_pte
    /// takes a reference and writes it.
    /// </summary>
    private void CountFreshPages(int tableId, ulong leaf, long pages, WalkFlags flags)
    {
        if (pages == 0)
            return;
        _counters.Add(Stage2Counter.DescriptorWrites, 2 * pages);
        _counters.Add(Stage2Counter.LeavesInstalledL3, pages);
        Pool.EntryCount(tableId) += (int)pages;
        if ((flags & WalkFlags.SkipCmo) != 0)
            return;
        if (IsCacheable(leaf))
            CleanDcache(Granule.PageSize, pages);
        if (new Descriptor(leaf).Executable)
            InvalidateIcache(Granule.PageSize, pages);
    }
}
