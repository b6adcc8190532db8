using Stage2Lab.Arch;
using Stage2Lab.PageTables;
using static Stage2Lab.Tests.PageTables.PageTableKit;

namespace Stage2Lab.Tests.PageTables;

/// <summary>
/// Table pages handed from a finished table to the next (what a fuzz worker does between cases): the next table
/// is the one fresh pages give, entry for entry, and the finished one cannot be read again.
/// </summary>
public class TablePageCacheTests
{
    private static Stage2PageTable Table(string granule, TablePageCache? cache) =>
        new(GranuleOf(granule), 40, new CpuFeatures(false, true, false), Stage2ApiRevision.Current, cache);

    /// <summary>Pages mapped in many tables below the root: 4K pages, 2M apart, across two L1 entries.</summary>
    private static void MapScattered(Stage2PageTable pgt, ulong ipaBase)
    {
        ulong page = pgt.Granule.PageSize;
        for (ulong i = 0; i < 24; i++)
            Assert.Equal(0, pgt.Map(ipaBase + i * pgt.Granule.LevelSize(2) + i * page, page, (1UL << 40) + i * page, "rw"));
    }

    private static List<(int Id, int Level, int RefCount, ulong[] Entries)> Pages(Stage2PageTable pgt)
    {
        TableInspector t = pgt.Inspect;
        var pages = new List<(int, int, int, ulong[])>();
        for (int id = 0; id < t.PageIdLimit; id++)
        {
            if (t.IsLive(id))
                pages.Add((id, t.LevelOf(id), t.RefCount(id), t.Entries(id).ToArray()));
        }
        return pages;
    }

    [Theory]
    [InlineData("4K")]
    [InlineData("16K")]
    [InlineData("64K")]
    public void A_table_on_returned_pages_is_the_table_fresh_pages_give(string granule)
    {
        var cache = new TablePageCache();
        Stage2PageTable first = Table(granule, cache);
        MapScattered(first, 0);
        first.DestroyRange(0, first.Geometry.IpaLimit);
        first.ReturnPages();
        int kept = cache.Count;
        Assert.True(kept >= 3, $"the finished table's pages are kept ({kept})");

        Stage2PageTable reused = Table(granule, cache);
        Stage2PageTable fresh = Table(granule, null);
        foreach (Stage2PageTable pgt in new[] { reused, fresh })
            MapScattered(pgt, 0x40_0000_0000);

        Assert.True(cache.Count < kept, "the second table took pages from the cache");
        Assert.Null(TableAudit.Problems(reused));
        Assert.Equal(Pages(fresh).Count, Pages(reused).Count);
        foreach (var ((id, level, refs, entries), want) in Pages(reused).Zip(Pages(fresh)))
        {
            Assert.Equal((want.Id, want.Level, want.RefCount), (id, level, refs));
            Assert.Equal(want.Entries, entries);
        }
    }

    [Fact]
    public void A_table_that_returned_its_pages_cannot_be_used_again()
    {
        var cache = new TablePageCache();
        Stage2PageTable pgt = Table("4K", cache);
        MapScattered(pgt, 0);
        pgt.ReturnPages();

        Assert.Equal(0, pgt.LiveTablePagesTotal);
        Assert.ThrowsAny<IndexOutOfRangeException>(() => pgt.Translate(0, AccessKind.Read));
        Assert.ThrowsAny<IndexOutOfRangeException>(() => pgt.Map(0, 4 * K, 1UL << 40, "rw"));
    }

    [Fact]
    public void Pages_of_one_granule_are_never_handed_to_a_table_of_another()
    {
        var cache = new TablePageCache();
        Stage2PageTable small = Table("4K", cache);
        MapScattered(small, 0);
        small.ReturnPages();
        int kept = cache.Count;

        Stage2PageTable large = Table("64K", cache);
        MapScattered(large, 0);

        Assert.Equal(kept, cache.Count);
        Assert.Null(TableAudit.Problems(large));
    }

    /// <summary>4K pages across <paramref name="tables"/> last-level tables (one page per 2M): far beyond the
    /// first 64 ordinary pages, so most of the table lives in slabs.</summary>
    private static void MapAcrossTables(Stage2PageTable pgt, ulong ipaBase, int tables, ulong paBase)
    {
        ulong page = pgt.Granule.PageSize;
        ulong step = pgt.Granule.LevelSize(2);
        for (ulong i = 0; i < (ulong)tables; i++)
            Assert.Equal(0, pgt.Map(ipaBase + i * step + (i % 7) * page, page, paBase + i * page, "rw"));
    }

    [Fact]
    public void A_large_table_on_kept_slabs_is_the_table_fresh_slabs_give()
    {
        var cache = new TablePageCache();
        // The first table fills its slabs with entries (not torn down: a finished run's table is dropped as is).
        Stage2PageTable first = Table("4K", cache);
        MapAcrossTables(first, 0, 700, 1UL << 40);
        first.ReturnPages();
        long keptBytes = cache.SlabBytes;
        Assert.True(keptBytes > 0, "the finished table's slabs are kept");

        Stage2PageTable reused = Table("4K", cache);
        Stage2PageTable fresh = Table("4K", null);
        foreach (Stage2PageTable pgt in new[] { reused, fresh })
            MapAcrossTables(pgt, 0x40_0000_0000, 600, 1UL << 41);

        Assert.True(cache.SlabBytes < keptBytes, "the second table took slabs from the cache");
        Assert.Null(TableAudit.Problems(reused));
        var want = Pages(fresh);
        var got = Pages(reused);
        Assert.Equal(want.Count, got.Count);
        foreach (var ((id, level, refs, entries), w) in got.Zip(want))
        {
            Assert.Equal((w.Id, w.Level, w.RefCount), (id, level, refs));
            Assert.Equal(w.Entries, entries);
        }
    }

    [Fact]
    public void Kept_slabs_are_bounded()
    {
        var cache = new TablePageCache();
        for (int run = 0; run < 3; run++)
        {
            Stage2PageTable pgt = Table("4K", cache);
            MapAcrossTables(pgt, 0, 300, 1UL << 40);
            pgt.ReturnPages();
            Assert.InRange(cache.SlabBytes, 1, TablePageCache.MaxSlabBytes);
        }
    }
}
