using Stage2Lab.Arch;
using Stage2Lab.Simulation.Scenarios;
using Stage2Lab.Simulation.Tlb;

namespace Stage2Lab.Tests.Tlb;

/// <summary>The scenario's <c>guest:</c> section: reading, errors in the reader's style, and writing it back.</summary>
public class GuestSectionTests
{
    private const string Base = """
        host:
          ram:
            - { base: 0x8000_0000, size: 4G }
          devices:
            - { name: bar, base: 0x80_0000_0000, size: 32G }
        mappings:
          - { name: ram, kind: anon, start: 0x7f00_0000_0000, size: 1G }
          - { name: bar, kind: pfnmap, device: bar, start: 0x7f10_0000_0000, size: 32G }
        vm:
          ipa-bits: 40
        memslots:
          - { id: 0, ipa: 0x4000_0000, mapping: ram }
          - { id: 1, ipa: 0x80_0000_0000, mapping: bar }

        """;

    [Fact]
    public void A_scenario_without_the_section_has_no_guest_and_the_default_maps_every_memslot_with_4K_pages()
    {
        Scenario s = ScenarioReader.Parse(Base, "t.yaml");
        Assert.Null(s.Guest);
        GuestStage1 g = new GuestSpec().Build(s.Vm.IpaBits, GuestSpec.MemslotRanges(s));
        Assert.Equal(Granule.Size4K, g.Granule);
        Assert.Equal(48, g.VaBits);
        Assert.Equal(2, g.Regions.Count);
        Assert.All(g.Regions, r => Assert.Equal(GuestMapping.Pages, r.Mapping));
        Assert.Equal(0x4000_0000UL, g.TablesIpa);
    }

    [Fact]
    public void Regions_are_read_with_their_mappings()
    {
        Scenario s = ScenarioReader.Parse(Base + """
            guest:
              granule: 4K
              va-bits: 48
              mapping: thp
              tables-ipa: 0x4000_0000
              regions:
                - { name: linear, va: 0xffff_0000_4000_0000, ipa: 0x4000_0000, size: 1G, mapping: 1G }
                - { name: bar, va: 0xffff_8000_0000_0000, ipa: 0x80_0000_0000, size: 32G }
                - { ipa: 0x8000_0000, size: 64K, mapping: contiguous }
            """, "t.yaml");
        GuestSpec g = Assert.IsType<GuestSpec>(s.Guest);
        Assert.Equal(GuestMapping.Thp, g.Mapping);
        Assert.Equal(
        [
            new GuestRegion("linear", 0xffff_0000_4000_0000, 0x4000_0000, 1UL << 30, GuestMapping.Block1G),
            new GuestRegion("bar", 0xffff_8000_0000_0000, 0x80_0000_0000, 32UL << 30, GuestMapping.Thp),
            new GuestRegion("region2", 0x8000_0000, 0x8000_0000, 64UL << 10, GuestMapping.Contiguous),
        ], g.Regions);
        GuestStage1 built = g.Build(s.Vm.IpaBits, GuestSpec.MemslotRanges(s));
        Assert.Equal(3, built.Regions.Count);
    }

    [Fact]
    public void Errors_carry_file_line_column_key_path_and_a_suggestion()
    {
        var ex = Assert.Throws<ScenarioException>(() => ScenarioReader.Parse(Base + """
            guest:
              granual: 4K
              va-bits: 60
              regions:
                - { name: r, va: 0x4000_1000, ipa: 0x4000_0000, size: 2M, mapping: thp }
                - { name: s, ipa: 0x4000_0000, size: 2M, mapping: hugepage }
            """, "g.yaml"));
        string all = string.Join("\n", ex.Errors);
        Assert.Contains("g.yaml:15:3: guest.granual: unknown key 'granual' (did you mean 'granule'?)", all);
        Assert.Contains("g.yaml:16:12: guest.va-bits: 60 is out of range; expected 25..48", all);
        Assert.Contains("guest.regions[1].mapping: 'hugepage' is not valid; expected one of pages, contiguous, thp, contiguous-thp, 1G", all);
    }

    [Fact]
    public void Layout_problems_point_at_the_field()
    {
        var ex = Assert.Throws<ScenarioException>(() => ScenarioReader.Parse(Base + """
            guest:
              regions:
                - { name: r, va: 0x4000_1000, ipa: 0x4000_0000, size: 2M, mapping: thp }
                - { name: s, va: 0x4010_0000, ipa: 0x4000_0000, size: 4K }
            """, "g.yaml"));
        ScenarioError va = Assert.Single(ex.Errors, e => e.Path == "guest.regions[0].va");
        Assert.Equal((16, 22), (va.Line, va.Column));
        Assert.Contains("must be aligned to 2M for 'thp'", va.Message);
        Assert.Contains(ex.Errors, e => e.Path == "guest.regions[1].va" && e.Message.Contains("overlaps region 'r'"));
    }

    [Fact]
    public void The_default_map_is_checked_against_the_memslots()
    {
        // 39 VA bits cannot map the BAR at IPA 0x80_0000_0000 (2^39) at VA = IPA.
        var ex = Assert.Throws<ScenarioException>(() => ScenarioReader.Parse(Base + """
            guest: { va-bits: 39 }
            """, "g.yaml"));
        ScenarioError e = Assert.Single(ex.Errors);
        Assert.Equal("guest", e.Path);
        Assert.Contains("give 'regions' or more 'va-bits'", e.Message);
    }

    [Fact]
    public void The_writer_writes_the_section_back_as_the_reader_reads_it()
    {
        Scenario s = ScenarioReader.Parse(Base + """
            guest:
              granule: 16K
              va-bits: 47
              tables-ipa: 0x4000_0000
              regions:
                - { name: "my \"ram\"", va: 0xffff_8000_0000_0000, ipa: 0x4000_0000, size: 1G, mapping: contiguous-thp }
            """, "t.yaml");
        Scenario again = ScenarioReader.Parse(ScenarioWriter.Write(s), "again.yaml");
        GuestSpec g = Assert.IsType<GuestSpec>(again.Guest);
        Assert.Equal(Granule.Size16K, g.Granule);
        Assert.Equal(47, g.VaBits);
        Assert.Equal(0x4000_0000UL, g.TablesIpa);
        Assert.Equal(s.Guest!.Regions, g.Regions);
    }
}
