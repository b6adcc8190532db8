using System.Text;
using Stage2Lab.Reports;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Scenarios;
using static Stage2Lab.Tests.Robustness.CliProcess;

namespace Stage2Lab.Tests.Reports;

/// <summary>
/// A timeline of many events (a script of single accesses): the tables and charts fold the middle phases into one
/// summed row, the JSON keeps every phase and is streamed, and the memory estimate counts the phases' results.
/// </summary>
public class LongTimelineTests
{
    /// <summary>One THP slot and <paramref name="events"/> writes <paramref name="stride"/> apart (one page: every 512th faults).</summary>
    private static string Yaml(int events, int stride = 0x1000)
    {
        var text = new StringBuilder("""
            name: long-timeline
            host:
              page-size: 4K
              ram:
                - { name: dram, base: 0x8000_0000, size: 8G }
            mappings:
              - { name: m0, kind: anon, start: 0x7f00_0000_0000, size: 1G }
            vm:
              ipa-bits: 40
            memslots:
              - { id: 0, ipa: 0x4000_0000, mapping: m0 }
            timeline:

            """);
        for (int i = 0; i < events; i++)
            text.Append($"  - access: {{ ipa: 0x{0x4000_0000 + (long)i * stride:x}, kind: write }}\n");
        return text.ToString();
    }

    private static Scenario Load(int events, int stride = 0x1000) => ScenarioReader.Load(Encoding.UTF8.GetBytes(Yaml(events, stride)), "long.yaml", null);

    [Fact]
    public void A_short_timeline_gets_a_row_per_phase()
    {
        PolicyRun run = ScenarioRunner.Run(Load(38), "v6.18");
        ReportTable table = RunTables.Phases(run);
        // Slot creation, 38 events, teardown: 40 rows, then the total.
        Assert.Equal(40, run.Phases.Count);
        Assert.Equal(41, table.Rows.Count);
        Assert.Equal([.. run.Phases.Select(p => p.Name), "total"], table.Rows.Select(r => r[0]));
    }

    [Fact]
    public void A_long_timeline_folds_the_middle_phases_into_one_summed_row()
    {
        PolicyRun run = ScenarioRunner.Run(Load(1200), "v6.18");
        Assert.Equal(1202, run.Phases.Count);
        ReportTable table = RunTables.Phases(run);
        // 38 phases one by one (slot creation, events 1-37), one row for events 38-1200, the teardown, the total.
        Assert.Equal(41, table.Rows.Count);
        Assert.Equal("37:access", table.Rows[37][0]);
        Assert.Equal("… 1,163 more phases (38:access to 1200:access)", table.Rows[38][0]);
        Assert.Equal("teardown", table.Rows[39][0]);
        Assert.Equal("total", table.Rows[40][0]);
        // The folded row sums its phases: 1,163 accesses; faults at pages 512 and 1024 (2 MiB blocks).
        Assert.Equal("1,163", table.Rows[38][1]);
        Assert.Equal("2", table.Rows[38][2]);
        Assert.Equal("1,200", table.Rows[40][1]);
        Assert.Equal("3", table.Rows[40][2]);
    }

    [Fact]
    public void The_compare_table_and_the_charts_fold_too_and_the_json_keeps_every_phase()
    {
        // Every event faults (2 MiB apart), so every phase has a bar in the charts.
        ScenarioResult result = ScenarioRunner.RunAll(Load(300, 0x20_0000), ["v5.13", "v7.4"]);
        ReportTable table = RunTables.Compare(result);
        string[] folded = [.. table.Rows.Select(r => r[0]).Where(l => l.Contains("more phases", StringComparison.Ordinal))];
        Assert.Contains("  … 263 more phases (38:access to 300:access)", folded);
        Assert.True(table.Rows.Count < 150, $"{table.Rows.Count} rows");

        string html = HtmlReport.Render(result);
        Assert.Contains("Not drawn: 261 more phases (39:access to 299:access), together v5.13 261, v7.4 261.", html);
        Assert.Contains("The JSON output (--format json) has every phase.", html);

        Assert.All(JsonReport.Document(result, "compare").Policies, p => Assert.Equal(302, p.Phases.Count));
    }

    [Fact]
    public void The_streamed_json_is_the_rendered_json_byte_for_byte()
    {
        ScenarioResult result = ScenarioRunner.RunAll(Load(50), ["v6.18"]);
        using var stream = new MemoryStream();
        JsonReport.Write(stream, result, "run");
        Assert.Equal(Encoding.UTF8.GetBytes(JsonReport.Render(result, "run")), stream.ToArray());
    }

    [Fact]
    public void The_memory_estimate_counts_every_events_results_under_every_policy()
    {
        Scenario s = Load(2000);
        MemoryItem one = Assert.Single(MemoryEstimator.Estimate(s, "v6.18").Items, i => i.What.Contains("timeline events", StringComparison.Ordinal));
        MemoryItem three = Assert.Single(MemoryEstimator.Estimate(s, "v6.18", runs: 3).Items, i => i.What.Contains("timeline events", StringComparison.Ordinal));
        Assert.Equal("the results of 2,000 timeline events under 3 policies (a phase each)", three.What);
        Assert.Equal(3 * one.Bytes, three.Bytes);
        Assert.Equal(13, three.Where.Line);
    }

    [Fact]
    public void A_timeline_whose_results_exceed_max_memory_is_refused_before_it_runs()
    {
        string dir = TempDir();
        string path = Path.Combine(dir, "long.yaml");
        File.WriteAllText(path, Yaml(8000));
        var r = InProcess("compare", path, "--policies", "v6.18", "v7.4", "--max-memory", "80M");
        Assert.True(r.Code == 2, $"exit {r.Code}: {r.Err}");
        Assert.Contains("long.yaml:13:5: timeline[0]", r.Err);
        Assert.Contains("of the results of 8,000 timeline events under 2 policies", r.Err);
        Assert.Contains("fewer timeline events", r.Err);
        Assert.Equal(0, InProcess("run", path, "--policy", "v6.18", "--max-memory", "300M", "--format", "json").Code);
    }

    [Fact]
    public void A_timeline_refused_many_times_lists_the_first_refusals_and_counts_the_rest()
    {
        var yaml = new StringBuilder("""
            name: refusals
            host:
              ram: [ { name: dram, base: 0x8000_0000, size: 8G } ]
              devices: [ { name: bar, base: 0x80_0000_0000, size: 2M } ]
            mappings:
              - { name: bar, kind: pfnmap, device: bar, start: 0x7f10_0000_0000, size: 2M }
            vm: { ipa-bits: 40 }
            memslots:
              - { id: 1, ipa: 0x80_0000_0000, mapping: bar }
            timeline:

            """);
        // Dirty logging is refused on a VM_PFNMAP slot (EINVAL), every time.
        for (int i = 0; i < 30; i++)
            yaml.Append("  - dirty-log: { slot: 1, enable: true }\n");
        Scenario s = ScenarioReader.Load(Encoding.UTF8.GetBytes(yaml.ToString()), "refusals.yaml", null);
        PolicyRun run = ScenarioRunner.Run(s, "v6.18");
        Assert.Equal(30, run.Phases.Sum(p => p.Refusals.Count));

        List<string> notes = RunTables.Phases(run).Notes;
        Assert.Equal(RunTables.MaxRefusalNotes, notes.Count(n => n.Contains(": refused ", StringComparison.Ordinal)));
        Assert.Contains("… and 10 more refusals (--format json lists every one).", notes);
        List<string> compared = RunTables.Compare(ScenarioRunner.RunAll(s, ["v5.13", "v6.18"])).Notes;
        Assert.Contains("v5.13, … and 10 more refusals (--format json lists every one).", compared);
        Assert.Contains("v6.18, … and 10 more refusals (--format json lists every one).", compared);
    }
}
