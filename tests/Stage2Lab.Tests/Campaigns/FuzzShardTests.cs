using static Stage2Lab.Tests.Robustness.CliProcess;

namespace Stage2Lab.Tests.Campaigns;

/// <summary>
/// Issue 13: a fuzz campaign over a fixed number of cases, split into shards and merged, is the single campaign
/// byte for byte (the lowest violating case wins, events counted as one thread counts them); --jobs changes
/// nothing but the time.
/// </summary>
public class FuzzShardTests
{
    [Theory]
    [InlineData("v6.18", "90")] // no violation: every case of every shard
    [InlineData("bug-log-blocks", "60")] // a violation in the first shard (case 7): the others do not count
    [InlineData("bug-no-vma-bound", "600")] // a violation in the second shard (case 365): the first shard's events count
    public void Merged_shards_are_the_single_campaign_byte_for_byte(string policy, string cases)
    {
        string dir = TempDir();
        string[] campaign = ["fuzz", "--policy", policy, "--layout", "ordinary", "--cases", cases, "--format", "json"];
        var whole = InProcess([.. campaign, "--jobs", "1", "--out", Path.Combine(dir, "whole.yaml")]);
        Assert.True(whole.Code is 0 or 1, whole.Err);
        var shards = new List<string>();
        foreach (int i in new[] { 2, 3, 1 })
        {
            var r = InProcess([.. campaign, "--shard", $"{i}/3"]);
            Assert.True(r.Code is 0 or 1, r.Err);
            string path = Path.Combine(dir, $"fuzz-{i}.json");
            File.WriteAllText(path, r.Out);
            shards.Add(path);
        }
        string reproducer = Path.Combine(dir, "merged.yaml");
        var m = InProcess(["merge", .. shards, "--reproducer", reproducer]);
        Assert.Equal(whole.Code, m.Code);
        Assert.Equal(whole.Out, m.Out);
        if (whole.Code == 1)
        {
            // The merged reproducer is the single campaign's, but for the line naming the file.
            string Body(string yaml) => string.Join("\n", yaml.Split('\n').Where(l => !l.StartsWith("# Reproduce:", StringComparison.Ordinal)));
            Assert.Equal(Body(File.ReadAllText(Path.Combine(dir, "whole.yaml"))), Body(File.ReadAllText(reproducer)));
            Assert.Equal(1, InProcess("check", reproducer).Code);
        }
    }

    [Fact]
    public void Two_jobs_find_what_one_finds_on_an_event_budget()
    {
        string dir = TempDir();
        string[] campaign = ["fuzz", "--policy", "bug-no-vma-bound", "--layout", "ordinary", "--events", "20000", "--format", "json"];
        var one = InProcess([.. campaign, "--jobs", "1", "--out", Path.Combine(dir, "one.yaml")]);
        var two = InProcess([.. campaign, "--jobs", "2", "--out", Path.Combine(dir, "two.yaml")]);
        Assert.Equal(1, one.Code);
        Assert.Equal(one.Out, two.Out);
        Assert.Contains("\"case\": 365", one.Out);
        Assert.Equal(File.ReadAllText(Path.Combine(dir, "one.yaml")).Replace("one.yaml", "", StringComparison.Ordinal),
            File.ReadAllText(Path.Combine(dir, "two.yaml")).Replace("two.yaml", "", StringComparison.Ordinal));
        var clean1 = InProcess("fuzz", "--policy", "v6.18", "--layout", "ordinary", "--events", "5000", "--format", "json", "--jobs", "1");
        var clean2 = InProcess("fuzz", "--policy", "v6.18", "--layout", "ordinary", "--events", "5000", "--format", "json", "--jobs", "2");
        Assert.Equal(0, clean1.Code);
        Assert.Equal(clean1.Out, clean2.Out);
    }

    [Fact]
    public void A_shard_needs_a_case_budget_and_merge_refuses_other_campaigns()
    {
        var events = InProcess("fuzz", "--events", "1000", "--shard", "1/2");
        Assert.Equal(2, events.Code);
        Assert.Contains("--cases N", events.Err);
        string dir = TempDir();
        string Part(string seed, int i)
        {
            var r = InProcess("fuzz", "--policy", "v6.18", "--layout", "ordinary", "--cases", "20", "--seed", seed, "--shard", $"{i}/2");
            Assert.Equal(0, r.Code);
            string path = Path.Combine(dir, $"s{seed}-{i}.json");
            File.WriteAllText(path, r.Out);
            return path;
        }
        var m = InProcess("merge", Part("1", 1), Part("2", 2));
        Assert.Equal(2, m.Code);
        Assert.Contains("not a shard of the same fuzz campaign", m.Err);
        var sweepAndFuzz = InProcess("merge", Part("1", 1), Path.Combine(dir, "missing.json"));
        Assert.Equal(2, sweepAndFuzz.Code);
        Assert.Contains("no such file", sweepAndFuzz.Err);
    }
}
