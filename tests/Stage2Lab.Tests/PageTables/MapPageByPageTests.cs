using System.Globalization;
using System.Text;
using CsCheck;
using Stage2Lab.Arch;
using Stage2Lab.PageTables;
using static Stage2Lab.Tests.PageTables.PageTableKit;

namespace Stage2Lab.Tests.PageTables;

/// <summary>
/// <see cref="Stage2PageTable.MapPageByPage"/> against what it stands for: kvm_phys_addr_ioremap's loop of
/// one-page kvm_pgtable_stage2_map calls (<see cref="OneMapCallPerPage"/>), run on a twin table built by the
/// same ops. Equal means every table page (its id, level, refcount and all its descriptors, freed pages
/// included), the pool's free list, the live counts per level, every counter, the memory cache left and the
/// return code — on success and wherever the loop stops.
/// </summary>
public class MapPageByPageTests
{
    // Cases per run: the one-page loop of a case maps up to 2.5 last-level tables (20,480 pages with 64K),
    // so the property takes a few seconds on 2 cores. Replay a failure with its CsCheck_Seed.
    private const int Iterations = 300;

    [Fact]
    public void Leaves_the_same_tables_counters_cache_and_return_code_as_one_map_call_per_page()
    {
        Cases.Sample(c =>
        {
            Stage2PageTable expected = Build(c);
            Stage2PageTable actual = Build(c);
            MemoryCache expectedCache = NewCache(c.CacheObjects);
            MemoryCache actualCache = NewCache(c.CacheObjects);

            int expectedRet = OneMapCallPerPage(expected, c.Ipa, c.Size, c.Pa, c.Prot, expectedCache);
            int actualRet = actual.MapPageByPage(c.Ipa, c.Size, c.Pa, c.Prot, actualCache);

            Assert.True(expectedRet == actualRet, $"one call per page returned {Errno.Name(expectedRet)}, MapPageByPage {Errno.Name(actualRet)}");
            Assert.Equal(expectedCache.Objects, actualCache.Objects);
            AssertSameTables(expected, actual);
            AssertConsistent(actual);
        }, iter: Iterations, print: Describe);
    }

    /// <summary>
    /// DestroyRange (stage2_free_walker, a last-level table's entries counted in one step) against the free
    /// walker visiting every entry, over the case's range and then the whole space, on the tables the cases
    /// build: partly filled tables, blocks, freed and reused pages.
    /// </summary>
    [Fact]
    public void Destroying_a_range_leaves_what_the_free_walker_visiting_every_entry_leaves()
    {
        Cases.Sample(c =>
        {
            Stage2PageTable expected = Build(c);
            Stage2PageTable actual = Build(c);
            foreach (Stage2PageTable pgt in new[] { expected, actual })
                pgt.MapPageByPage(c.Ipa, c.Size, c.Pa, c.Prot, NewCache(c.CacheObjects));
            ulong limit = expected.Geometry.IpaLimit;
            foreach (var (ipa, size) in new[] { (c.Ipa, c.Size), (0UL, limit) })
            {
                var visitor = new Stage2PageTable.FreeVisitor(expected);
                int expectedRet = Walker.Walk(expected, ipa, size, WalkFlags.Leaf | WalkFlags.TablePost, ref visitor);
                Assert.Equal(expectedRet, actual.DestroyRange(ipa, size));
                AssertSameTables(expected, actual);
            }
        }, iter: 150, print: Describe);
    }

    // ---- the paths the property must reach, each pinned down once ----

    [Theory]
    [InlineData("4K", 40)]
    [InlineData("16K", 40)]
    [InlineData("64K", 42)]
    public void Maps_pages_only_even_where_a_range_map_would_install_blocks(string granule, int ipaBits)
    {
        Stage2PageTable pgt = NewTable(granule, ipaBits);
        ulong tableSpan = pgt.Granule.LevelSize(Granule.LastLevel - 1);
        ulong pages = (ulong)pgt.Granule.EntriesPerTable;

        // Two whole last-level tables' worth, IPA and PA block-aligned: one range map would make two blocks.
        Assert.Equal(0, pgt.MapPageByPage(4 * tableSpan, 2 * tableSpan, 8 * tableSpan, Prot.Device | Prot.RW, MemoryCache.Unbounded()));

        List<LeafEntry> leaves = Leaves(pgt);
        Assert.Equal(2 * (int)pages, leaves.Count);
        Assert.All(leaves, leaf => Assert.Equal(Granule.LastLevel, leaf.Level));
        Assert.Equal(LeafDescriptor(8 * tableSpan + pgt.Granule.PageSize, Granule.LastLevel, "rwd"), leaves[1].Descriptor.Raw);
        // Per page: the locked marker and the leaf; per new table: the marker and the table descriptor.
        long newTables = pgt.Counters[Stage2Counter.TablePagesAllocated];
        AssertCounters(pgt.Counters,
            (Stage2Counter.DescriptorWrites, 2 * 2 * (long)pages + 2 * newTables),
            (LeavesAt(Granule.LastLevel), 2 * (long)pages),
            (Stage2Counter.TablePagesAllocated, newTables));
    }

    [Fact]
    public void An_empty_cache_stops_it_at_the_first_page_that_needs_a_table_with_the_pages_before_it_mapped()
    {
        // 4K/40, empty: the page below 1 GiB needs an L2 and an L3 table, the page at 1 GiB another L2 and L3
        // table. With three pages in the cache, that second L3 table fails: one page mapped, an empty L2 left.
        var (expected, actual) = Twins("4K", 40);
        ulong ipa = 0x4000_0000 - 0x1000, size = 0x20_0000 + 0x3000;
        var expectedCache = new MemoryCache(3, 3);
        var actualCache = new MemoryCache(3, 3);

        int ret = OneMapCallPerPage(expected, ipa, size, 0x1_0000_0000, Prot.Device | Prot.RW, expectedCache);

        Assert.Equal(-Errno.ENOMEM, ret);
        Assert.Equal(ret, actual.MapPageByPage(ipa, size, 0x1_0000_0000, Prot.Device | Prot.RW, actualCache));
        Assert.Equal(0, actualCache.Objects);
        Assert.Single(Leaves(actual));
        Assert.Equal(3, actual.Counters[Stage2Counter.TablePagesAllocated]);
        AssertSameTables(expected, actual);
    }

    [Fact]
    public void The_first_page_beyond_the_ipa_space_is_refused_with_the_pages_below_it_mapped()
    {
        var (expected, actual) = Twins("16K", 36);
        ulong limit = expected.Geometry.IpaLimit, page = expected.Granule.PageSize;

        int ret = OneMapCallPerPage(expected, limit - 5 * page, 9 * page, 0x2_0000_0000, Prot.Device | Prot.R, MemoryCache.Unbounded());

        Assert.Equal(-Errno.ERANGE, ret);
        Assert.Equal(ret, actual.MapPageByPage(limit - 5 * page, 9 * page, 0x2_0000_0000, Prot.Device | Prot.R, MemoryCache.Unbounded()));
        Assert.Equal(5, Leaves(actual).Count);
        AssertSameTables(expected, actual);
    }

    [Theory]
    [InlineData(Stage2ApiRevision.Current, 0)]
    [InlineData(Stage2ApiRevision.V5_12, -Errno.EAGAIN)]
    [InlineData(Stage2ApiRevision.V5_10, 0)]
    public void A_leaf_that_differs_only_in_permissions_is_treated_as_each_api_revision_treats_it(Stage2ApiRevision api, int expectedRet)
    {
        // Pages 3 and 4 of the range already map the same PA read-only; the range asks for read-write.
        Stage2PageTable expected = new(Granule.Size4K, 40, CpuFeatures.Default, api);
        Stage2PageTable actual = new(Granule.Size4K, 40, CpuFeatures.Default, api);
        foreach (Stage2PageTable pgt in new[] { expected, actual })
            Assert.Equal(0, pgt.Map(0x4000_3000, 0x2000, 0x9000_3000, Prot.Device | Prot.R, MemoryCache.Unbounded()));

        int ret = OneMapCallPerPage(expected, 0x4000_0000, 0x1_0000, 0x9000_0000, Prot.Device | Prot.RW, MemoryCache.Unbounded());

        Assert.Equal(expectedRet, ret);
        Assert.Equal(ret, actual.MapPageByPage(0x4000_0000, 0x1_0000, 0x9000_0000, Prot.Device | Prot.RW, MemoryCache.Unbounded()));
        AssertSameTables(expected, actual);
        // Current keeps the read-only leaves (relax_perms' job), 5.10 replaces them, 5.12 stopped at the first
        // (pages 0-2 new, 3-4 as they were).
        bool writable = new Descriptor(EntryAt(actual, 0x4000_3000, 3)).Writable;
        Assert.Equal(api == Stage2ApiRevision.V5_10, writable);
        Assert.Equal(api == Stage2ApiRevision.V5_12 ? 5 : 16, Leaves(actual).Count);
    }

    [Fact]
    public void A_block_in_the_range_is_broken_into_a_table_holding_only_the_mapped_pages()
    {
        var (expected, actual) = Twins("4K", 40);
        foreach (Stage2PageTable pgt in new[] { expected, actual })
            Assert.Equal(0, pgt.Map(0x4020_0000, 0x20_0000, 0x8020_0000, P("rw"), MemoryCache.Unbounded()));

        // The range covers the last 3 pages below the 2M block and the block's first 2 pages.
        int ret = OneMapCallPerPage(expected, 0x401F_D000, 0x5000, 0x1_0000_0000, Prot.Device | Prot.RW, MemoryCache.Unbounded());

        Assert.Equal(0, ret);
        Assert.Equal(0, actual.MapPageByPage(0x401F_D000, 0x5000, 0x1_0000_0000, Prot.Device | Prot.RW, MemoryCache.Unbounded()));
        AssertSameTables(expected, actual);
        Assert.Equal(5, Leaves(actual).Count);
        Assert.Equal(1, actual.Counters[Stage2Counter.BreakBeforeMake]);
        Assert.Equal(1, actual.Counters[TlbiAt(2)]);
    }

    [Fact]
    public void A_refused_prot_fails_the_first_page_and_an_empty_range_does_nothing()
    {
        var (expected, actual) = Twins("64K", 42);
        Assert.Equal(-Errno.EINVAL, OneMapCallPerPage(expected, 0x4000_0000, 0x1_0000, 0x9000_0000, Prot.Device | Prot.RWX, MemoryCache.Unbounded()));
        Assert.Equal(-Errno.EINVAL, actual.MapPageByPage(0x4000_0000, 0x1_0000, 0x9000_0000, Prot.Device | Prot.RWX, MemoryCache.Unbounded()));
        Assert.Equal(0, actual.MapPageByPage(0x4000_0000, 0, 0x9000_0000, Prot.Device | Prot.RWX, MemoryCache.Unbounded()));
        // A range whose end wraps around 2^64: the loop's `addr < ipa + size` is false at once.
        Assert.Equal(0, actual.MapPageByPage(0x4000_0000, ulong.MaxValue - 0x1000, 0x9000_0000, Prot.Device | Prot.RW, MemoryCache.Unbounded()));
        AssertSameTables(expected, actual);
        Assert.True(actual.Counters.IsZero);
    }

    // ======================= the reference and the comparison =======================

    /// <summary>kvm_phys_addr_ioremap (5.10-rc1 → 5.13 mmu.c) as the model ran it before MapPageByPage: one
    /// map call per page, stopping at the first error.</summary>
    private static int OneMapCallPerPage(Stage2PageTable pgt, ulong ipa, ulong sizeBytes, ulong pa, Prot prot, MemoryCache cache)
    {
        ulong page = pgt.Granule.PageSize;
        for (ulong addr = ipa; addr < ipa + sizeBytes; addr += page, pa += page)
        {
            int ret = pgt.Map(addr, page, pa, prot, cache);
            if (ret != 0)
                return ret;
        }
        return 0;
    }

    private static (Stage2PageTable Expected, Stage2PageTable Actual) Twins(string granule, int ipaBits) =>
        (NewTable(granule, ipaBits), NewTable(granule, ipaBits));

    private static MemoryCache NewCache(long objects) =>
        objects == long.MaxValue ? MemoryCache.Unbounded() : new MemoryCache(objects, objects);

    /// <summary>Every table page ever allocated (id, liveness, level, refcount, all entries), the free list,
    /// the live counts per level and every counter.</summary>
    private static void AssertSameTables(Stage2PageTable expected, Stage2PageTable actual)
    {
        TablePagePool e = expected.Pool, a = actual.Pool;
        Assert.Equal(e.HighWater, a.HighWater);
        Assert.Equal(e.LivePages, a.LivePages);
        Assert.Equal(e.FreeIds.ToArray(), a.FreeIds.ToArray());
        for (int id = 0; id < e.HighWater; id++)
        {
            Assert.True(e.IsLive(id) == a.IsLive(id), $"table page {id}: live {e.IsLive(id)} expected, {a.IsLive(id)} found");
            Assert.True(e.Level(id) == a.Level(id), $"table page {id}: level {e.Level(id)} expected, {a.Level(id)} found");
            Assert.True(e.EntryCount(id) == a.EntryCount(id), $"table page {id}: refcount {e.EntryCount(id)} expected, {a.EntryCount(id)} found");
            Span<ulong> ep = e.Page(id), ap = a.Page(id);
            int diff = ep.CommonPrefixLength(ap);
            if (diff < ep.Length)
                Assert.Fail($"table page {id} (L{e.Level(id)}) entry {diff}: expected 0x{ep[diff]:x16}, found 0x{ap[diff]:x16}");
        }
        for (int level = 0; level < 4; level++)
            Assert.Equal(expected.LiveTablePages(level), actual.LiveTablePages(level));
        var wrong = new List<string>();
        for (int i = 0; i < Stage2Counters.Count; i++)
        {
            var counter = (Stage2Counter)i;
            if (expected.Counters[counter] != actual.Counters[counter])
                wrong.Add($"{counter}: expected {expected.Counters[counter]}, found {actual.Counters[counter]}");
        }
        Assert.True(wrong.Count == 0, string.Join("; ", wrong));
    }

    // ======================= case generation =======================

    public enum OpKind { Map, Unmap, Split, WrProtect }

    /// <summary>An op that builds the starting state.</summary>
    public readonly record struct SetupOp(OpKind Kind, ulong Ipa, ulong Size, ulong Pa, Prot Prot);

    public sealed record Case(
        Granule Granule, int IpaBits, CpuFeatures Features, Stage2ApiRevision Api, SetupOp[] Setup,
        ulong Ipa, ulong Size, ulong Pa, Prot Prot, long CacheObjects);

    /// <summary>Every start level and 1 to 16 concatenated roots, for each granule.</summary>
    private static readonly (Granule Granule, int IpaBits)[] Shapes =
    [
        (Granule.Size4K, 32), (Granule.Size4K, 36), (Granule.Size4K, 40), (Granule.Size4K, 42),
        (Granule.Size4K, 44), (Granule.Size4K, 48),
        (Granule.Size16K, 36), (Granule.Size16K, 40), (Granule.Size16K, 42), (Granule.Size16K, 48),
        (Granule.Size64K, 40), (Granule.Size64K, 44), (Granule.Size64K, 48),
    ];

    private static readonly Stage2ApiRevision[] ApiRevisions = [Stage2ApiRevision.Current, Stage2ApiRevision.V5_12, Stage2ApiRevision.V5_10];

    /// <summary>Mostly what kvm_phys_addr_ioremap asks for (device, R or RW), and the others so that every
    /// memory type, the cache maintenance of cacheable and executable leaves and a refused prot are reached.</summary>
    private static readonly Gen<Prot> Prots = Gen.Frequency(
        (4, Gen.Const(Prot.Device | Prot.RW)),
        (2, Gen.Const(Prot.Device | Prot.R)),
        (2, Gen.Const(Prot.RW)),
        (1, Gen.Const(Prot.RWX)),
        (1, Gen.Const(Prot.R | Prot.X)),
        (1, Gen.Const(Prot.NormalNC | Prot.RW)),
        (1, Gen.Const(Prot.Device | Prot.X)));

    private static readonly Gen<Case> Cases =
        Gen.Select(Gen.Int[0, Shapes.Length - 1], Gen.Bool, Gen.Bool, Gen.Bool, Gen.Int[0, ApiRevisions.Length - 1])
            .SelectMany((shape, fwb, dic, rangeTlbi, api) =>
            {
                var (granule, ipaBits) = Shapes[shape];
                var geometry = new Stage2Geometry(granule, ipaBits);
                var features = new CpuFeatures(fwb, dic, rangeTlbi);
                return Target(geometry).SelectMany(t =>
                    SetupOps(geometry, t.Ipa, t.Size, t.Pa, t.Prot).Select(setup =>
                        new Case(granule, ipaBits, features, ApiRevisions[api], setup, t.Ipa, t.Size, t.Pa, t.Prot, t.Cache)));
            });

    /// <summary>
    /// The range: around a boundary of some level (a last-level table, a block, a root entry, a concatenated
    /// root page, the bottom or the very top of the IPA space, so that it runs past BIT(ia_bits)), up to 1.5
    /// tables before it and 2.5 tables long; sometimes not page-aligned (IPA, size or PA). The cache is
    /// unbounded or holds a few pages (-ENOMEM midway).
    /// </summary>
    private static Gen<(ulong Ipa, ulong Size, ulong Pa, Prot Prot, long Cache)> Target(Stage2Geometry geometry)
    {
        Granule granule = geometry.Granule;
        ulong page = granule.PageSize, limit = geometry.IpaLimit;
        int perTable = granule.EntriesPerTable;
        var anchors = new List<(int, IGen<ulong>)>
        {
            (2, Gen.Const(0UL)),
            (2, Gen.Const(limit)),
            (6, Gen.Int[geometry.StartLevel, Granule.LastLevel - 1].SelectMany(level =>
            {
                ulong span = granule.LevelSize(level);
                return Gen.Long[0, (long)(limit / span)].Select(k => (ulong)k * span);
            })),
        };
        if (geometry.RootPages > 1)
            anchors.Add((2, Gen.Int[1, geometry.RootPages - 1].Select(k => (ulong)k * (limit / (ulong)geometry.RootPages))));
        Gen<ulong> anchor = Gen.Frequency([.. anchors]);
        Gen<long> pagesBefore = Gen.Frequency((3, Gen.Long[0, 4]), (3, Gen.Long[0, perTable * 3 / 2]));
        Gen<long> pages = Gen.Frequency((1, Gen.Const(0L)), (3, Gen.Long[1, 8]), (5, Gen.Long[1, perTable * 5 / 2]));
        Gen<ulong> subPage = Gen.Frequency((5, Gen.Const(0UL)), (1, Gen.ULong[1, page - 1]));
        Gen<ulong> pa = Gen.Select(Gen.Int[1, 3], Gen.Frequency((6, Gen.Const(0UL)), (2, Gen.Int[1, 3].Select(n => (ulong)n * page)), (1, Gen.ULong[1, page - 1])),
            (region, shift) => ((ulong)region << 40) + shift);
        Gen<long> cache = Gen.Frequency((3, Gen.Const(long.MaxValue)), (2, Gen.Long[0, 6]));

        return Gen.Select(anchor, pagesBefore, pages, subPage, subPage, pa, Prots, cache,
            (a, before, n, ipaJitter, sizeJitter, p, prot, objects) =>
            {
                ulong ipa = a - Math.Min(a, (ulong)before * page) + ipaJitter;
                ulong size = (ulong)n * page + sizeJitter;
                return (ipa, size, p + (ipa & ((1UL << 39) - 1)), prot, objects);
            });
    }

    /// <summary>
    /// 0 to 6 ops around the range before it is mapped: pages and blocks of the last two levels that can hold
    /// them (often of the very PA and prot the range maps, so that leaves needing no change, or a change of
    /// permissions only, are met), unmaps (table pages freed: the pool reuses them), splits and write-protects.
    /// </summary>
    private static Gen<SetupOp[]> SetupOps(Stage2Geometry geometry, ulong ipa, ulong size, ulong pa, Prot prot)
    {
        Granule granule = geometry.Granule;
        ulong page = granule.PageSize;
        ulong tableSpan = granule.LevelSize(Granule.LastLevel - 1);
        var units = new List<ulong> { page };
        for (int level = Granule.LastLevel - 1; level >= Math.Max(geometry.StartLevel, Granule.LastLevel - 2); level--)
        {
            if (granule.LevelSupportsLeaf(level))
                units.Add(granule.LevelSize(level));
        }
        ulong windowStart = (ipa & ~(tableSpan - 1)) - Math.Min(ipa & ~(tableSpan - 1), tableSpan);
        ulong windowPages = (Math.Min(size, 4 * tableSpan) + 3 * tableSpan) / page;

        Gen<ulong> unit = Gen.Frequency(units.Select((u, i) => (i == 0 ? 4 : i == 1 ? 3 : 1, (IGen<ulong>)Gen.Const(u))).ToArray());
        Gen<(ulong Ipa, ulong Size)> where = Gen.Select(unit, Gen.ULong[0, windowPages], Gen.Int[1, 3], Gen.Int[1, 24],
            (u, offset, count, pageCount) =>
            {
                ulong at = (windowStart + offset * page) & ~(u - 1);
                return (at, u == page ? (ulong)pageCount * page : (ulong)count * u);
            });
        // The range's own prot (a leaf needing no change), with W flipped (a change of permissions only), others.
        Gen<Prot> opProt = Gen.Frequency((3, Gen.Const(prot)), (3, Gen.Const(prot ^ Prot.W)), (1, Gen.Const(Prot.Device | Prot.R)), (1, Gen.Const(Prot.RW)), (1, Gen.Const(Prot.R | Prot.X)));
        // A few pages inside the range itself, mapped as the range would map them (or with W flipped).
        ulong start = ipa & ~(page - 1), rangePages = Math.Max(1, size / page);
        Gen<(ulong Ipa, ulong Size)> inRange = Gen.Select(Gen.ULong[0, rangePages - 1], Gen.Int[1, 8],
            (k, n) => (start + k * page, (ulong)n * page));
        Gen<SetupOp> op = Gen.Frequency(
            (4, Gen.Select(inRange, opProt, (w, p) => new SetupOp(OpKind.Map, w.Ipa, w.Size, pa + (w.Ipa - start), p))),
            (6, Gen.Select(where, Gen.Int[0, 2], opProt, (w, samePa, p) =>
                new SetupOp(OpKind.Map, w.Ipa, w.Size, samePa > 0 ? pa + (w.Ipa - start) : (4UL << 40) + w.Ipa, p))),
            (2, where.Select(w => new SetupOp(OpKind.Unmap, w.Ipa, w.Size, 0, Prot.None))),
            (1, where.Select(w => new SetupOp(OpKind.Split, w.Ipa, w.Size, 0, Prot.None))),
            (1, where.Select(w => new SetupOp(OpKind.WrProtect, w.Ipa, w.Size, 0, Prot.None))));
        return op.Array[0, 6];
    }

    /// <summary>A table with the case's geometry, features and API revision, after its setup ops (whose
    /// errors, e.g. beyond the IPA space, are part of the state like anything else).</summary>
    private static Stage2PageTable Build(Case c)
    {
        var pgt = new Stage2PageTable(c.Granule, c.IpaBits, c.Features, c.Api);
        foreach (SetupOp op in c.Setup)
        {
            _ = op.Kind switch
            {
                OpKind.Map => pgt.Map(op.Ipa, op.Size, op.Pa, op.Prot, MemoryCache.Unbounded()),
                OpKind.Unmap => pgt.Unmap(op.Ipa, op.Size),
                OpKind.Split => pgt.Split(op.Ipa, op.Size, MemoryCache.Unbounded()),
                _ => pgt.WrProtect(op.Ipa, op.Size),
            };
        }
        return pgt;
    }

    private static string Describe(Case c)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"\n{c.Granule.Name} ipa-bits {c.IpaBits} {c.Features} api {c.Api}\n");
        foreach (SetupOp op in c.Setup)
            text.Append(CultureInfo.InvariantCulture, $"  {op.Kind} 0x{op.Ipa:x} 0x{op.Size:x} 0x{op.Pa:x} {op.Prot.ToLetters()}\n");
        string cache = c.CacheObjects == long.MaxValue ? "unbounded" : c.CacheObjects.ToString(CultureInfo.InvariantCulture);
        text.Append(CultureInfo.InvariantCulture, $"then page by page: ipa 0x{c.Ipa:x} size 0x{c.Size:x} pa 0x{c.Pa:x} {c.Prot.ToLetters()} cache {cache}\n");
        return text.ToString();
    }
}
