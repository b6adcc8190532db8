using Stage2Lab.Arch;
using Stage2Lab.Simulation.Tlb;
using static Stage2Lab.Tests.Tlb.TlbKit;

namespace Stage2Lab.Tests.Tlb;

/// <summary>The guest's stage 1: levels, the linear translation, where its tables sit, and what is refused.</summary>
public class GuestStage1Tests
{
    [Theory]
    [InlineData("4K", 48, 4, 0)]
    [InlineData("4K", 39, 3, 1)]
    [InlineData("4K", 42, 4, 0)]
    [InlineData("16K", 47, 3, 1)]
    [InlineData("16K", 48, 4, 0)]
    [InlineData("64K", 48, 3, 1)]
    [InlineData("64K", 42, 2, 2)]
    public void Levels_are_the_ceiling_of_the_bits_above_the_page_over_the_bits_per_level(string granule, int vaBits, int levels, int startLevel)
    {
        GuestStage1 g = Guest(RamIpa, 1UL << 16, GuestMapping.Pages, 48, vaBits, granule);
        Assert.Equal(levels, g.Levels);
        Assert.Equal(startLevel, g.StartLevel);
    }

    [Fact]
    public void An_ipa_two_regions_map_goes_through_the_first_region_listed_whatever_was_looked_up_before()
    {
        // Regions may share IPAs (only VAs must not overlap): docs/scenario-format.md says the first region listed
        // is the one an IPA-driven access goes through. "alias" is looked up last-hit-first, so a lookup that only
        // it answers must not make it answer the shared range after.
        GuestStage1 g = GuestStage1.Create(Granule.Size4K, 48,
            [new("linear", 0xffff_0000_4000_0000, G, 4 * M, GuestMapping.Pages), new("alias", 0x7f00_0000_0000, G + 2 * M, 4 * M, GuestMapping.Pages)],
            G + 8 * M, 40);

        Assert.Equal(1, g.FindIpa(G + 5 * M, out ulong onlyAlias));
        Assert.Equal(0x7f00_0000_0000UL + 3 * M, onlyAlias);
        Assert.Equal(0, g.FindIpa(G + 3 * M, out ulong shared));
        Assert.Equal(0xffff_0000_4000_0000UL + 3 * M, shared);
        Assert.Equal(1, g.FindIpa(G + 5 * M + 8, out _));
        Assert.Equal(0, g.FindIpa(G + 2 * M, out ulong sharedStart));
        Assert.Equal(0xffff_0000_4000_0000UL + 2 * M, sharedStart);
    }

    [Fact]
    public void A_region_translates_linearly_in_both_directions()
    {
        GuestStage1 g = GuestStage1.Create(Granule.Size4K, 48,
            [new("ram", 0xffff_0000_4000_0000, 0x4000_0000, 16 * G, GuestMapping.Block1G), new("bar", 0x7f00_0000_0000, 0x80_0000_0000, 32 * G, GuestMapping.Thp)],
            0x4000_0000, 40);

        Assert.True(g.TryTranslate(0xffff_0000_4000_1234, out ulong ipa));
        Assert.Equal(0x4000_1234UL, ipa);
        Assert.Equal(1, g.FindIpa(0x80_0020_0000, out ulong va));
        Assert.Equal(0x7f00_0020_0000UL, va);
        Assert.False(g.TryTranslate(0x1000, out _));
        Assert.Equal(-1, g.FindIpa(0x10_0000_0000, out _));
    }

    [Fact]
    public void Tables_are_packed_in_walk_order_and_shared_between_regions()
    {
        // Two 4K-page regions at VA 1G (2M) and 1G+4M (4M): the same level-0, -1 and -2 tables, their own level-3 ones.
        GuestStage1 g = GuestStage1.Create(Granule.Size4K, 48,
            [new("a", G, G, 2 * M, GuestMapping.Pages), new("b", G + 4 * M, G + 4 * M, 4 * M, GuestMapping.Pages)],
            tablesIpa: 0x1000_0000, ipaBits: 40);

        // Level 0: one root; level 1: one table (VA < 512G); level 2: one (VA in the same 1G);
        // level 3: one per 2M: a has 1, b has 2. 1 + 1 + 1 + 3 = 6 pages.
        Assert.Equal(6, g.TablePages);
        Assert.Equal(0x1000_0000UL, g.TableIpa(0, 0, G));
        Assert.Equal(0x1000_0000UL, g.TableIpa(1, 0, G + 4 * M));
        Assert.Equal(0x1000_1000UL, g.TableIpa(1, 1, G + 4 * M));
        Assert.Equal(0x1000_2000UL, g.TableIpa(0, 2, G));
        Assert.Equal(0x1000_3000UL, g.TableIpa(0, 3, G + 8 * K));
        Assert.Equal(0x1000_4000UL, g.TableIpa(1, 3, G + 4 * M));
        Assert.Equal(0x1000_5000UL, g.TableIpa(1, 3, G + 6 * M + 4 * K));
    }

    [Fact]
    public void The_ttbr1_half_has_its_own_root()
    {
        GuestStage1 g = GuestStage1.Create(Granule.Size4K, 48,
            [new("user", G, G, 2 * M, GuestMapping.Pages), new("kernel", 0xffff_0000_4000_0000, 2 * G, 2 * M, GuestMapping.Pages)],
            tablesIpa: 0x1000_0000, ipaBits: 40);
        Assert.Equal(8, g.TablePages); // two of each level
        Assert.NotEqual(g.TableIpa(0, 0, G), g.TableIpa(1, 0, 0xffff_0000_4000_0000));
    }

    [Fact]
    public void The_default_identity_map_uses_blocks_where_aligned_and_pages_in_the_head_and_tail()
    {
        GuestStage1 g = GuestStage1.Identity(Granule.Size4K, 48, [(G - 4 * K, 4 * M + 8 * K)], 40, GuestMapping.Thp);
        Assert.Equal(
        [
            new GuestRegion("identity@0x3ffff000-head", G - 4 * K, G - 4 * K, 4 * K, GuestMapping.Pages),
            new GuestRegion("identity@0x3ffff000", G, G, 4 * M, GuestMapping.Thp),
            new GuestRegion("identity@0x3ffff000-tail", G + 4 * M, G + 4 * M, 4 * K, GuestMapping.Pages),
        ], g.Regions);
        Assert.Equal(G - 4 * K, g.TablesIpa);
    }

    [Fact]
    public void The_default_identity_map_leaves_out_slots_beyond_the_ipa_space()
    {
        // A slot at or above 2^40 is refused by KVM; one straddling the limit is cut at it.
        GuestStage1 g = GuestStage1.Identity(Granule.Size4K, 48, [(1UL << 40, G), ((1UL << 40) - 2 * M, 4 * M), (G, 2 * M)], 40);
        Assert.Equal([((1UL << 40) - 2 * M, 2 * M), (G, 2 * M)], g.Regions.Select(r => (r.Ipa, r.SizeBytes)));
    }

    [Fact]
    public void Every_problem_is_named_with_its_region_and_field()
    {
        List<GuestProblem> problems = GuestStage1.Check(Granule.Size16K, 48,
        [
            new("blocks", G, G, G, GuestMapping.Block1G),
            new("odd", G + 8 * K, G, 64 * K, GuestMapping.Pages),
            new("huge", 1UL << 50, 0, 2 * M, GuestMapping.Pages),
            new("overlap", G, 4 * G, 16 * K, GuestMapping.Pages),
            new("beyond", 4 * G, 1UL << 40, 16 * K, GuestMapping.Pages),
        ], tablesIpa: 0x1234, ipaBits: 40);

        Assert.Contains(problems, p => p is { RegionIndex: 0, Field: "mapping" } && p.Message.Contains("needs a 4K granule"));
        Assert.Contains(problems, p => p is { RegionIndex: 1, Field: "va" } && p.Message.Contains("aligned to 16K"));
        Assert.Contains(problems, p => p is { RegionIndex: 2, Field: "va" } && p.Message.Contains("TTBR0"));
        Assert.Contains(problems, p => p is { RegionIndex: 3, Field: "va" } && p.Message.Contains("overlaps region 'odd'"));
        Assert.Contains(problems, p => p is { RegionIndex: 4, Field: "ipa" } && p.Message.Contains("40-bit IPA"));
        Assert.Contains(problems, p => p is { RegionIndex: -1, Field: "tables-ipa" });
        Assert.Throws<ArgumentException>(() => GuestStage1.Create(Granule.Size16K, 48, [new("blocks", G, G, G, GuestMapping.Block1G)], 0, 40));
    }

    [Fact]
    public void A_1G_guest_leaf_needs_a_level_1_table()
    {
        // 4K granule with 30 VA bits: 2 levels starting at level 2, so no level-1 block exists.
        List<GuestProblem> problems = GuestStage1.Check(Granule.Size4K, 30, [new("r", 0, 0, G, GuestMapping.Block1G)], 2 * G, 40);
        GuestProblem p = Assert.Single(problems);
        Assert.Contains("above the start level 2", p.Message);
    }

    [Fact]
    public void Thousands_of_memslot_ranges_are_merged_closest_first_into_the_regions_the_model_keeps()
    {
        // 1,000 4K slots 64K apart, and one far away: the far one keeps its own region, the rest merge.
        var ranges = Enumerable.Range(0, 1000).Select(i => (G + (ulong)i * 64 * K, 4 * K)).Reverse().ToList();
        ranges.Add((64 * G, 2 * M));
        GuestStage1 g = GuestStage1.Identity(Granule.Size4K, 48, ranges, 40);

        Assert.Equal(GuestStage1.MaxRegions, g.Regions.Count);
        Assert.Contains(g.Regions, r => r.Ipa == 64 * G && r.SizeBytes == 2 * M);
        foreach (var (ipa, _) in ranges)
            Assert.True(g.FindIpa(ipa, out ulong va) >= 0 && va == ipa, $"{ipa:x} unmapped");
        // Tables stay at the first range the scenario lists.
        Assert.Equal(G + 999 * 64 * K, g.TablesIpa);
    }
}
