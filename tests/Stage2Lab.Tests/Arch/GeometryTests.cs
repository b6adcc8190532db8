using Stage2Lab.Arch;

namespace Stage2Lab.Tests.Arch;

public class GeometryTests
{
    // stage2-model.md §1.1: granule, PAGE_SHIFT, entries, level sizes L0..L3 (0 = no such level), block levels.
    [Theory]
    [InlineData("4K", 12, 512, 512UL << 30, 1UL << 30, 2UL << 20, 4096UL, 1)]
    [InlineData("16K", 14, 2048, 128UL << 40, 64UL << 30, 32UL << 20, 16384UL, 2)]
    [InlineData("64K", 16, 8192, 0UL, 4UL << 40, 512UL << 20, 65536UL, 2)]
    public void Granule_levels_match_the_architecture(string name, int pageShift, int entries, ulong l0, ulong l1, ulong l2, ulong l3, int minBlockLevel)
    {
        Assert.True(Granule.TryParse(name, out Granule g));
        Assert.Equal(pageShift, g.PageShift);
        Assert.Equal(entries, g.EntriesPerTable);
        if (l0 != 0)
            Assert.Equal(l0, g.LevelSize(0));
        Assert.Equal(l1, g.LevelSize(1));
        Assert.Equal(l2, g.LevelSize(2));
        Assert.Equal(l3, g.LevelSize(3));
        Assert.Equal(minBlockLevel, g.MinBlockLevel);
        Assert.False(g.LevelSupportsLeaf(minBlockLevel - 1));
        Assert.True(g.LevelSupportsLeaf(minBlockLevel));
        Assert.True(g.LevelSupportsLeaf(3));
    }

    // stage2-model.md §1.2: IPA size -> levels, start level, concatenated root pages.
    [Theory]
    [InlineData("4K", 32, 2, 2, 4)]
    [InlineData("4K", 36, 3, 1, 1)]
    [InlineData("4K", 40, 3, 1, 2)]
    [InlineData("4K", 42, 3, 1, 8)]
    [InlineData("4K", 44, 4, 0, 1)]
    [InlineData("4K", 48, 4, 0, 1)]
    [InlineData("16K", 36, 2, 2, 1)]
    [InlineData("16K", 40, 2, 2, 16)]
    [InlineData("16K", 42, 3, 1, 1)]
    [InlineData("16K", 48, 3, 1, 2)]
    [InlineData("64K", 40, 2, 2, 1)]
    [InlineData("64K", 44, 2, 2, 4)]
    [InlineData("64K", 48, 3, 1, 1)]
    public void Ipa_size_gives_levels_start_level_and_root_pages(string granule, int ipaBits, int levels, int startLevel, int rootPages)
    {
        Assert.True(Granule.TryParse(granule, out Granule g));
        var geometry = new Stage2Geometry(g, ipaBits);
        Assert.Equal(levels, geometry.Levels);
        Assert.Equal(startLevel, geometry.StartLevel);
        Assert.Equal(rootPages, geometry.RootPages);
    }

    [Theory]
    [InlineData(31)]
    [InlineData(49)]
    public void Ipa_size_outside_32_to_48_is_refused(int ipaBits)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Stage2Geometry(Granule.Size4K, ipaBits));
    }

    [Fact]
    public void Root_page_index_selects_the_concatenated_page()
    {
        var geometry = new Stage2Geometry(Granule.Size4K, 42); // 8 root pages of 512 GiB each
        Assert.Equal(0, geometry.RootPageIndex(0));
        Assert.Equal(1, geometry.RootPageIndex(512UL << 30));
        Assert.Equal(7, geometry.RootPageIndex((1UL << 42) - 1));
    }
}
