using static Stage2Lab.Tests.Robustness.CliProcess;

namespace Stage2Lab.Tests.Campaigns;

/// <summary>
/// Issue 13: `s2lab sweep` over the cross product of scenario values, its shards merged into exactly the single
/// run's output, any --jobs giving the same bytes, and bad input refused with exit 2 and the key named.
/// </summary>
public class SweepCliTests
{
    internal const string Scenario = """
        name: sweep-test
        host:
          page-size: 4K
          ram: [ { name: dram, base: 0x8000_0000, size: 4G } ]
          devices: [ { name: bar, base: 0x40_0000_0000, size: 1G } ]
        mappings:
          - { name: ram, kind: anon, start: 0x7f00_0000_0000, size: 64M }
          - { name: bar, kind: pfnmap, device: bar, start: 0x7f10_0000_0000, size: 1G, host-pmd: true }
        vm: { ipa-bits: 40, policies: [v5.14, v6.18] }
        memslots:
          - { id: 0, ipa: 0x4000_0000, mapping: ram }
          - { id: 1, ipa: 0x80_0000_0000, mapping: bar }
        timeline:
          - workload: { name: touch, pattern: random, slot: 1, count: 200, seed: 3, mix: { read: 50, write: 50 } }
        """;

    internal static readonly string[] Vary =
        ["--vary", "mappings.bar.start=0x7f10_0000_0000..0x7f10_4000_0000/256M", "--vary", "mappings[1].size=256M,1G", "--policies", "v5.13", "v5.14", "v6.18"];

    internal static string WriteScenario(string dir)
    {
        string path = Path.Combine(dir, "sweep-test.yaml");
        File.WriteAllText(path, Scenario);
        return path;
    }

    private static (int Code, string Out, string Err) Sweep(string scenario, params string[] more) => InProcess(["sweep", scenario, .. Vary, .. more]);

    [Theory]
    [InlineData("json")]
    [InlineData("csv")]
    [InlineData("table")]
    public void Merged_shards_are_the_single_run_byte_for_byte(string format)
    {
        string dir = TempDir();
        string scenario = WriteScenario(dir);
        string whole = Path.Combine(dir, "whole." + format);
        Assert.Equal(0, Sweep(scenario, "--format", format, "--out", whole, "--jobs", "1").Code);
        var shards = new List<string>();
        foreach (int i in new[] { 3, 1, 2 })
        {
            string shard = Path.Combine(dir, $"shard-{i}.json");
            var r = Sweep(scenario, "--shard", $"{i}/3", "--out", shard);
            Assert.True(r.Code == 0, r.Err);
            Assert.Contains($"\"index\": {i}", File.ReadAllText(shard));
            shards.Add(shard);
        }
        string merged = Path.Combine(dir, "merged." + format);
        var m = InProcess(["merge", .. shards, "--format", format, "--out", merged]);
        Assert.True(m.Code == 0, m.Err);
        Assert.Equal(File.ReadAllBytes(whole), File.ReadAllBytes(merged));
        Assert.NotEqual(File.ReadAllBytes(shards[0]), File.ReadAllBytes(merged));
    }

    [Fact]
    public void One_job_and_two_give_the_same_rows_in_the_same_order()
    {
        string scenario = WriteScenario(TempDir());
        var one = Sweep(scenario, "--format", "csv", "--jobs", "1");
        var two = Sweep(scenario, "--format", "csv", "--jobs", "2");
        Assert.Equal(0, one.Code);
        Assert.Equal(one.Out, two.Out);
        string[] lines = one.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(1 + 5 * 2 * 3, lines.Length); // header, 5 starts × 2 sizes × 3 policies
        Assert.StartsWith("point,mappings.bar.start,mappings[1].size,policy,granule,faults,", lines[0]);
        // The first key varies slowest, the policies fastest; the range includes its end.
        Assert.StartsWith("0,0x7f1000000000,256M,v5.13,4K,", lines[1]);
        Assert.StartsWith("1,0x7f1000000000,1G,v5.13,", lines[4]);
        Assert.StartsWith("9,0x7f1040000000,1G,v6.18,", lines[^1]);
    }

    [Fact]
    public void Heavy_policies_run_first_but_rows_keep_the_order_given()
    {
        // v5.13 maps the BAR page by page at slot creation, so it is started before v6.18 at each point; the rows
        // still list the policies as --policies gives them, the same for one job and two.
        string scenario = WriteScenario(TempDir());
        string[] sweep = ["sweep", scenario, .. Vary[..4], "--policies", "v6.18", "v5.13", "--format", "csv"];
        var one = InProcess([.. sweep, "--jobs", "1"]);
        var two = InProcess([.. sweep, "--jobs", "2"]);
        Assert.True(one.Code == 0, one.Err);
        Assert.Equal(one.Out, two.Out);
        string[] lines = one.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(1 + 5 * 2 * 2, lines.Length);
        Assert.StartsWith("0,0x7f1000000000,256M,v6.18,4K,", lines[1]);
        Assert.StartsWith("0,0x7f1000000000,256M,v5.13,4K,", lines[2]);
        Assert.StartsWith("9,0x7f1040000000,1G,v5.13,", lines[^1]);
    }

    [Fact]
    public void The_rows_are_the_runs_of_the_scenario_with_those_values()
    {
        string scenario = WriteScenario(TempDir());
        var r = Sweep(scenario, "--format", "csv", "--jobs", "1");
        string[] header = r.Out.Split('\n')[0].Split(',');
        int Column(string name) => Array.IndexOf(header, name);
        var rows = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(l => l.Split(',')).ToList();
        // A 1G BAR mmap'ed 1G-aligned is one 1G block from 5.14 on, never on 5.13 (mapped page by page at slot creation).
        string[] aligned = rows.Single(c => c[1] == "0x7f1000000000" && c[2] == "1G" && c[3] == "v6.18");
        Assert.Equal("1", aligned[Column("leaves-l1")]);
        string[] old = rows.Single(c => c[1] == "0x7f1000000000" && c[2] == "1G" && c[3] == "v5.13");
        Assert.Equal("262144", old[Column("leaves-at-creation")]);
        // 256M off the 1G boundary, no 1G block is possible: 2M blocks instead.
        string[] offset = rows.Single(c => c[1] == "0x7f1010000000" && c[2] == "1G" && c[3] == "v6.18");
        Assert.Equal("0", offset[Column("leaves-l1")]);
        Assert.NotEqual("0", offset[Column("leaves-l2")]);
        // The same point through run gives the same faults.
        string dir = TempDir();
        string edited = Path.Combine(dir, "edited.yaml");
        File.WriteAllText(edited, SweepCliTests.Scenario.Replace("start: 0x7f10_0000_0000, size: 1G", "start: 0x7f10_1000_0000, size: 1G", StringComparison.Ordinal));
        var run = InProcess("run", edited, "--policy", "v6.18", "--format", "json");
        long faults = System.Text.Json.JsonDocument.Parse(run.Out).RootElement.GetProperty("policies")[0].GetProperty("totals").GetProperty("faults").GetProperty("total").GetInt64();
        Assert.Equal(faults.ToString(System.Globalization.CultureInfo.InvariantCulture), offset[Column("faults")]);
    }

    [Theory]
    [InlineData("mappings.bar.strat=1", "mappings.bar.strat", "did you mean 'start'")]
    [InlineData("mappings.nic.start=1", "mappings.nic.start", "nearest keys in this scenario: ")]
    [InlineData("memslots[7].ipa=0x1000", "memslots[7].ipa", "the list has 2 entries")]
    [InlineData("host.page-size=5K", "host.page-size", "'5K' is not valid (did you mean '4K'?); expected one of 4K, 16K, 64K (the value '5K' was set by --vary host.page-size)")]
    [InlineData("mappings.bar.size=lots", "mappings[1].size", "'lots' is not a number")]
    [InlineData("mappings.bar=1G", "mappings.bar", "is a mapping, not a single value")]
    [InlineData("mappings.bar.start=0x7f10_4000_0000..0x7f10_0000_0000/1M", "mappings.bar.start", "an empty range")]
    [InlineData("mappings.bar.start=0x7f10_0000_0000..0x7f10_4000_0000/0", "mappings.bar.start", "the step is 0")]
    [InlineData("mappings.bar.start=0..0x7f10_4000_0000/1", "mappings.bar.start", "more than the 1,000,000 a sweep may have")]
    [InlineData("mappings.bar.start=0x7f10_0000_0000..0x7f10_4000_0000", "mappings.bar.start", "a range needs a step")]
    [InlineData("mappings.bar.start=1,,2", "mappings.bar.start", "an empty value")]
    [InlineData("host.page-size", "host.page-size", "is not KEY=VALUES")]
    public void Bad_keys_and_values_exit_two_naming_the_key(string vary, string key, string message)
    {
        string scenario = WriteScenario(TempDir());
        var r = InProcess("sweep", scenario, "--vary", vary);
        Assert.Equal(2, r.Code);
        Assert.Contains(key, r.Err);
        Assert.Contains(message, r.Err);
        Assert.Equal("", r.Out);
        Assert.DoesNotContain("   at ", r.Err);
    }

    [Theory]
    [InlineData("0/3", "I must be 1 to 3")]
    [InlineData("4/3", "I must be 1 to 3")]
    [InlineData("1/0", "N must be 1 to")]
    [InlineData("a/b", "is not I/N")]
    [InlineData("2", "is not I/N")]
    public void A_shard_out_of_range_or_malformed_exits_two(string shard, string message)
    {
        string scenario = WriteScenario(TempDir());
        var r = Sweep(scenario, "--shard", shard);
        Assert.Equal(2, r.Code);
        Assert.Contains("--shard", r.Err);
        Assert.Contains(message, r.Err);
        var f = InProcess("fuzz", "--cases", "10", "--shard", shard);
        Assert.Equal(2, f.Code);
        Assert.Contains(message, f.Err);
    }

    [Fact]
    public void Merge_refuses_other_campaigns_and_missing_or_repeated_shards()
    {
        string dir = TempDir();
        string scenario = WriteScenario(dir);
        string Shard(int i, int n, string name, params string[] vary)
        {
            string path = Path.Combine(dir, name);
            var r = InProcess(["sweep", scenario, .. vary, "--shard", $"{i}/{n}", "--out", path]);
            Assert.True(r.Code == 0, r.Err);
            return path;
        }
        string a1 = Shard(1, 2, "a1.json", "--vary", "mappings.bar.size=256M,512M,1G");
        string a2 = Shard(2, 2, "a2.json", "--vary", "mappings.bar.size=256M,512M,1G");
        string b2 = Shard(2, 2, "b2.json", "--vary", "mappings.bar.size=256M,1G");
        string c2 = Shard(2, 3, "c2.json", "--vary", "mappings.bar.size=256M,512M,1G");

        var other = InProcess("merge", a1, b2);
        Assert.Equal(2, other.Code);
        Assert.Contains("not a shard of the same sweep", other.Err);
        Assert.Contains("--vary", other.Err);
        var split = InProcess("merge", a1, c2);
        Assert.Equal(2, split.Code);
        Assert.Contains("3 shards where", split.Err);
        var missing = InProcess("merge", a2);
        Assert.Equal(2, missing.Code);
        Assert.Contains("shard 1 of 2 missing", missing.Err);
        var twice = InProcess("merge", a1, a1, a2);
        Assert.Equal(2, twice.Code);
        Assert.Contains("given twice", twice.Err);
        string junk = Path.Combine(dir, "junk.json");
        File.WriteAllText(junk, "{\"schema\": \"stage2lab.result/3\"}");
        var notShard = InProcess("merge", junk);
        Assert.Equal(2, notShard.Code);
        Assert.Contains("not a shard document", notShard.Err);
        Assert.Equal(0, InProcess("merge", a2, a1).Code);
    }

    [Fact]
    public void A_shard_writes_json_and_a_chart_needs_a_known_key_and_metric()
    {
        string scenario = WriteScenario(TempDir());
        var csv = Sweep(scenario, "--shard", "1/2", "--format", "csv");
        Assert.Equal(2, csv.Code);
        Assert.Contains("--shard writes JSON", csv.Err);
        var x = Sweep(scenario, "--plot", Path.Combine(TempDir(), "c.svg"), "--x", "host.page-size");
        Assert.Equal(2, x.Code);
        Assert.Contains("--x host.page-size is not a varied key", x.Err);
        var metric = Sweep(scenario, "--plot", Path.Combine(TempDir(), "c.svg"), "--metric", "speed");
        Assert.Equal(2, metric.Code);
        Assert.Contains("leaves-l1", metric.Err); // System.CommandLine lists the metrics
        var png = Sweep(scenario, "--plot", Path.Combine(TempDir(), "c.png"));
        Assert.Equal(2, png.Code);
        Assert.Contains(".svg or .html", png.Err);
    }
}
