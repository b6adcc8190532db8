using System.Text;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Scenarios;
using static Stage2Lab.Tests.Robustness.CliProcess;

namespace Stage2Lab.Tests.Robustness;

/// <summary>
/// Before 5.14 a slot move maps the slot's PFNMAP VMAs page by page again (kvm_arch_prepare_memory_region on
/// KVM_MR_MOVE), so a timeline of moves counts against the per-run limit of pages mapped one by one.
/// </summary>
public class SlotMoveLimitTests
{
    private static string Yaml(int moves)
    {
        var yaml = new StringBuilder("""
            name: moves
            host:
              ram: [ { name: dram, base: 0x8000_0000, size: 8G } ]
              devices: [ { name: bar, base: 0x80_0000_0000, size: 32G } ]
            mappings:
              - { name: bar, kind: pfnmap, device: bar, start: 0x7f10_0000_0000, size: 32G }
            vm: { ipa-bits: 44 }
            memslots:
              - { id: 1, ipa: 0x80_0000_0000, mapping: bar }
            timeline:

            """);
        for (int i = 0; i < moves; i++)
            yaml.Append($"  - slot-move: {{ slot: 1, ipa: 0x{(i % 2 == 0 ? 0x100_0000_0000L : 0x80_0000_0000L):x} }}\n");
        return yaml.ToString();
    }

    [Fact]
    public void Every_move_counts_the_slots_pfnmap_pages_again_before_5_14_only()
    {
        Scenario s = ScenarioReader.Parse(Yaml(3), "moves.yaml");
        const ulong barPages = (32UL << 30) >> 12;
        Assert.Equal(4 * barPages, MemoryEstimator.Estimate(s, "v5.13").PagesMappedAtCreation);
        Assert.Equal(4 * barPages, MemoryEstimator.Estimate(s, "v5.9").PagesMappedAtCreation);
        Assert.Equal(0UL, MemoryEstimator.Estimate(s, "v6.18").PagesMappedAtCreation);
    }

    [Fact]
    public void A_timeline_of_moves_past_the_limit_is_refused_before_it_runs()
    {
        string path = Path.Combine(TempDir(), "moves.yaml");
        File.WriteAllText(path, Yaml(16));
        var r = InProcess("run", path, "--policy", "v5.13");
        Assert.True(r.Code == 2, $"exit {r.Code}: {r.Err}");
        Assert.Contains("moves.yaml:9:5: memslots[0]", r.Err);
        Assert.Contains("under v5.13 slot creation and the slot moves would map 142,606,336 VM_PFNMAP pages one at a time", r.Err);
        Assert.Contains("fewer slot moves", r.Err);
        // Since 5.14 a move maps nothing at once: the same timeline is valid.
        Assert.Equal(0, InProcess("run", path, "--policy", "v6.18", "--tlb", "off").Code);
    }
}
