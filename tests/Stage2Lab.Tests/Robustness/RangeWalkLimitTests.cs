using System.Text;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Scenarios;
using static Stage2Lab.Tests.Robustness.CliProcess;

namespace Stage2Lab.Tests.Robustness;

/// <summary>
/// Range events (dirty-log enable, age, zap, munmap, get/clear-dirty-log, slot moves and deletes) each walk their
/// range: a long timeline of them over a fully mapped slot is bounded before the run starts.
/// </summary>
public class RangeWalkLimitTests
{
    private static string Yaml(string slotSize, ulong accesses, IEnumerable<string> events)
    {
        var yaml = new StringBuilder($$"""
            name: walks
            host:
              thp: never
              ram: [ { name: dram, base: 0x8000_0000, size: 64G } ]
            mappings:
              - { name: ram, kind: anon, start: 0x7f00_0000_0000, size: {{slotSize}} }
            vm: { ipa-bits: 40 }
            memslots:
              - { id: 0, ipa: 0x40_0000_0000, mapping: ram }
            timeline:
              - workload: { name: touch, pattern: random, slot: 0, count: {{accesses}}, seed: 1, mix: { write: 100 } }

            """);
        foreach (string ev in events)
            yaml.Append("  - ").Append(ev).Append('\n');
        return yaml.ToString();
    }

    [Fact]
    public void Each_range_event_counts_its_pages_but_no_more_leaves_than_the_run_can_make()
    {
        // 1 GiB slot (262,144 pages), 1,000 accesses: at most 1,000 leaves.
        string yaml = Yaml("1G", 1000,
        [
            "dirty-log: { slot: 0, enable: true }", // min(262,144, 1,000)
            "dirty-log: { slot: 0, enable: false }", // nothing walked
            "dirty-log: { slot: 0, enable: true }",
            "dirty-log: { slot: 0, enable: true }",
            "age: { mapping: ram, offset: 0, size: 2M }", // min(512, 1,000)
            "age: { mapping: ram, offset: 2M, size: 2M }",
            "get-dirty-log: { slot: 0 }", // the bitmap: 262,144 / 64 + 1 words
            "zap: { mapping: ram, offset: 0, size: 4K }", // one page
        ]);
        MemoryEstimate e = MemoryEstimator.Estimate(ScenarioReader.Parse(yaml, "walks.yaml"), "v6.18");
        Assert.Equal(3 * 1000UL + 2 * 512 + 4097 + 1, e.WalkVisits);
        Assert.Null(e.WalkLimitPassedAt);
    }

    [Fact]
    public void A_timeline_of_write_protects_over_a_fully_mapped_slot_is_refused_where_it_passes_the_limit()
    {
        // 32 GiB of 4K pages, 8,388,608 accesses: each dirty-log enable walks up to 8,388,608 leaves; the
        // 2,049th passes 2^34.
        string path = Path.Combine(TempDir(), "walks.yaml");
        File.WriteAllText(path, Yaml("32G", 8_388_608, Enumerable.Repeat("dirty-log: { slot: 0, enable: true }", 2100)));
        var r = InProcess("run", path, "--policy", "v6.18");
        Assert.True(r.Code == 2, $"exit {r.Code}: {r.Err}");
        Assert.Contains("walks.yaml:2060:5: timeline[2049]", r.Err);
        Assert.Contains("pass the limit of 17,179,869,184 stage-2 entries walked per run under v6.18", r.Err);
        Assert.Contains("the whole timeline would walk up to 17,616,076,800", r.Err);
    }
}
