using System.Text;
using Stage2Lab.Reports;
using Stage2Lab.Simulation.Advice;

namespace Stage2Lab.Tests.Advice;

/// <summary>advise on a VM of many memslots (virtio-mem's): the slot table shows the busiest, the rest in one summed row.</summary>
public class AdviceManySlotsTests
{
    /// <summary><paramref name="slots"/> 2 MiB slots of 4K pages (THP off); slot 19 (if there is one) is touched on three pages, the others on one.</summary>
    private static string Yaml(int slots)
    {
        var yaml = new StringBuilder("host:\n  thp: never\n  ram: [ { name: dram, base: 0x8000_0000, size: 8G } ]\nmappings:\n");
        for (int i = 0; i < slots; i++)
            yaml.Append($"  - {{ name: m{i}, kind: anon, start: 0x{0x7f00_0000_0000 + i * 0x40_0000L:x}, size: 2M }}\n");
        yaml.Append("vm: { ipa-bits: 40, policies: [v6.18] }\nmemslots:\n");
        for (int i = 0; i < slots; i++)
            yaml.Append($"  - {{ id: {i}, ipa: 0x{0x4000_0000 + i * 0x40_0000L:x}, mapping: m{i} }}\n");
        yaml.Append("timeline:\n");
        for (int i = 0; i < slots; i++)
            yaml.Append($"  - access: {{ ipa: 0x{0x4000_0000 + i * 0x40_0000L:x}, kind: write }}\n");
        for (int page = 1; page <= 2 && slots > 19; page++)
            yaml.Append($"  - access: {{ ipa: 0x{0x4000_0000 + 19 * 0x40_0000L + page * 0x1000:x}, kind: write }}\n");
        return yaml.ToString();
    }

    [Fact]
    public void Past_sixteen_slots_the_busiest_are_shown_in_slot_order_and_the_rest_summed()
    {
        AdviceResult result = AdviceKit.Advise(Yaml(20), "v6.18");
        Assert.Equal(20, result.Slots.Count);
        ReportTable table = AdviceTables.Slots(result);
        string[] slots = [.. table.Rows.Select(r => r[1]).Where(c => c.Length > 0)];
        // Slot 19 (3 faults), then the lowest ids of the 1-fault slots: 0..14; 15..18 summed.
        Assert.Equal([.. Enumerable.Range(0, 15).Select(i => $"{i}:"), "19:", "… 4 more slots"], slots.Select(c => c.StartsWith('…') ? c : c[..(c.IndexOf(':') + 1)]));
        string[] folded = table.Rows.Single(r => r[1] == "… 4 more slots");
        Assert.Equal(["v6.18", "… 4 more slots", "", "4×4K", "4×4K"], folded[..5]);
        Assert.Equal("4", folded[6]);
        Assert.Equal("3×4K", table.Rows.Single(r => r[1].StartsWith("19:", StringComparison.Ordinal))[3]);
    }

    [Fact]
    public void Sixteen_slots_or_fewer_are_all_shown()
    {
        ReportTable table = AdviceTables.Slots(AdviceKit.Advise(Yaml(AdviceTables.MaxSlotsPerPolicy), "v6.18"));
        Assert.Equal(AdviceTables.MaxSlotsPerPolicy, table.Rows.Count(r => r[1].Length > 0));
        Assert.DoesNotContain(table.Rows, r => r[1].Contains("more slots", StringComparison.Ordinal));
    }
}
