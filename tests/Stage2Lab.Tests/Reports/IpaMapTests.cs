using System.Text;
using System.Text.RegularExpressions;
using Stage2Lab.Reports;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Tests.Reports;

/// <summary>The HTML report's IPA map: at most <see cref="IpaMapSection.MaxBands"/> memslot bands, and leaves outside every memslot on a band of their own.</summary>
public class IpaMapTests
{
    private static ScenarioResult Run(string yaml, string policy) =>
        ScenarioRunner.RunAll(ScenarioReader.Load(Encoding.UTF8.GetBytes(yaml), "map.yaml", null), [policy]);

    private static string[] SlotLabels(string html) =>
        [.. Regex.Matches(html, "font-size=\"13\">(slot [0-9]+): IPA").Select(m => m.Groups[1].Value)];

    [Fact]
    public void A_vm_of_many_memslots_draws_the_largest_in_ipa_order_and_names_the_rest()
    {
        // 60 slots of 2 MiB, and slot 60 of 64 MiB placed first in IPA: 61 slots, 13 left out.
        var yaml = new StringBuilder("""
            name: many-slots
            host:
              page-size: 4K
              ram:
                - { name: dram, base: 0x8000_0000, size: 8G }
            mappings:
              - { name: big, kind: anon, start: 0x7e00_0000_0000, size: 64M }

            """);
        for (int i = 0; i < 60; i++)
            yaml.Append($"  - {{ name: m{i}, kind: anon, start: 0x{0x7f00_0000_0000 + i * 0x40_0000L:x}, size: 2M }}\n");
        yaml.Append("vm:\n  ipa-bits: 40\nmemslots:\n  - { id: 60, ipa: 0x1000_0000, mapping: big }\n");
        for (int i = 0; i < 60; i++)
            yaml.Append($"  - {{ id: {i}, ipa: 0x{0x4000_0000 + i * 0x40_0000L:x}, mapping: m{i} }}\n");
        yaml.Append("timeline:\n  - access: { ipa: 0x1000_0000, kind: write }\n");

        string html = HtmlReport.Render(Run(yaml.ToString(), "v6.18"));

        string[] labels = SlotLabels(html);
        Assert.Equal(IpaMapSection.MaxBands, labels.Length);
        // The 64 MiB slot first (lowest IPA), then the 2 MiB slots of lowest IPA (the tie-break), in IPA order.
        Assert.Equal(["slot 60", .. Enumerable.Range(0, IpaMapSection.MaxBands - 1).Select(i => $"slot {i}")], labels);
        Assert.Contains("Not drawn: 13 smaller memslots (26.0 MiB in all); the 48 largest of the 61 are above.", html);
    }

    [Fact]
    public void A_few_memslots_are_all_drawn_without_a_note()
    {
        string html = HtmlReport.Render(Run(File.ReadAllText(Path.Combine(RepoPaths.Examples, "nic-small-bars-mmio.yaml")), "v6.18"));
        Assert.Single(SlotLabels(html));
        Assert.DoesNotContain("smaller memslots", html);
    }

    [Fact]
    public void A_slot_over_thousands_of_small_vmas_draws_what_a_pixel_can_show()
    {
        // 3,000 adjacent 64 KiB VMAs under one 187.5 MiB slot: three VMAs per pixel of the 1,000-pixel map.
        var yaml = new StringBuilder("host:\n  ram: [ { name: dram, base: 0x8000_0000, size: 8G } ]\nmappings:\n");
        for (int i = 0; i < 3000; i++)
            yaml.Append($"  - {{ name: v{i}, kind: anon, start: 0x{0x7f00_0000_0000 + i * 0x1_0000L:x}, size: 64K }}\n");
        yaml.Append($"vm: {{ ipa-bits: 40 }}\nmemslots:\n  - {{ id: 0, ipa: 0x4000_0000, size: 0x{3000 * 0x1_0000:x}, hva: 0x7f00_0000_0000 }}\n");
        yaml.Append("timeline:\n  - access: { ipa: 0x4000_0000, kind: write }\n");

        string html = HtmlReport.Render(Run(yaml.ToString(), "v6.18"));

        int[] merged = [.. Regex.Matches(html, "<title>([0-9,]+) VMAs \\[").Select(m => int.Parse(m.Groups[1].Value.Replace(",", ""), System.Globalization.CultureInfo.InvariantCulture))];
        int single = Regex.Matches(html, "<title>VMA v[0-9]+ \\[").Count;
        Assert.Equal(3000, merged.Sum() + single);
        Assert.InRange(merged.Length + single, 900, 1001);
        Assert.DoesNotContain("vma-edge", html);
        Assert.DoesNotContain("no-vma", html);
    }

    [Theory]
    [InlineData(0x0, 0x1000, false)] // below the first slot, touching its start
    [InlineData(0x1800, 0x1900, true)]
    [InlineData(0x2000, 0x3000, false)] // from the first slot's end
    [InlineData(0x4000, 0x5001, true)] // into the second slot by a byte
    [InlineData(0x6000, 0x7000, false)] // past the last slot
    [InlineData(0x0, 0x10000, true)] // across both
    [InlineData(0x2fff, 0x5000, false)] // the gap between them
    public void A_leaf_run_is_outside_every_memslot_only_when_it_overlaps_none(long ipa, long endIpa, bool inSome)
    {
        SlotSnapshot[] slots = [new(0, 0x1000, 0x1000, 0x7f00_0000_0000, "a"), new(1, 0x5000, 0x1000, 0x7f00_0001_0000, "b")];
        var run = new LeafRun((ulong)ipa, (ulong)endIpa, 3, 0x1000, false, 1);
        Assert.Equal(inSome, IpaMapSection.InSomeSlot(run, slots));
        Assert.False(IpaMapSection.InSomeSlot(run, []));
    }
}
