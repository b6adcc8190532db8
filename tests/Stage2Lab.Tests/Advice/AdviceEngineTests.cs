using Stage2Lab.Kvm;
using Stage2Lab.Reports;
using Stage2Lab.Simulation.Advice;
using Stage2Lab.Simulation.Import;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Tests.Advice;

/// <summary>How advise runs: deterministic whatever the parallelism, honest about imports, and its levers documented.</summary>
public class AdviceEngineTests
{
    [Fact]
    public void The_output_is_the_same_whether_runs_are_made_one_at_a_time_or_in_parallel()
    {
        Scenario s = AdviceKit.Parse(AdviceKit.RamWithoutThp);
        string Json(int parallelism) => AdviceJson.Render(Advisor.Advise(s, new AdviceOptions { Policies = ["v5.13", "v6.18"], MaxParallelism = parallelism }));
        string one = Json(1);
        Assert.Contains("\"kind\": \"thp\"", one);
        Assert.Equal(one, Json(2));
        Assert.Equal(one, Json(4));
    }

    [Fact]
    public void Advice_on_an_imported_scenario_names_the_records_its_target_came_from()
    {
        string dir = Path.Combine(RepoPaths.Examples, "import", "synthetic", "arm64-gpu-trace");
        var records = new List<RecordInput>
        {
            RecordInput.Load(RecordFormat.Smaps, Path.Combine(dir, "smaps.txt")),
            RecordInput.Load(RecordFormat.QemuTrace, Path.Combine(dir, "qemu-trace.txt")),
            RecordInput.Load(RecordFormat.Lspci, Path.Combine(dir, "lspci.txt")),
        };
        string yaml = Importer.Import(records, new ImportOptions { Name = "imported" }).ToYaml();
        Scenario s = AdviceKit.Parse(yaml, "imported.yaml");
        AdviceResult r = Advisor.Advise(s, new AdviceOptions { Policies = ["v6.18"], Sources = ScenarioSources.FromText(yaml), MaxParallelism = 2 });

        Suggestion align = Assert.Single(r.Suggestions, x => x.Change.Kind == ChangeKind.AlignHva);
        Assert.Equal(32, align.After.Leaves[1]); // the 32G BAR as 1G blocks
        Assert.Contains(align.Sources, x => x.Item.StartsWith("mapping ", StringComparison.Ordinal) && x.Records.Contains("smaps.txt:76", StringComparison.Ordinal));
        Assert.Contains(align.Sources, x => x.Item.StartsWith("slot ", StringComparison.Ordinal) && x.Records.Contains("qemu-trace.txt:", StringComparison.Ordinal));
        Assert.All(r.Slots, slot => Assert.NotNull(slot.Source));
        Assert.Contains("smaps.txt:76", AdviceJson.Render(r));
    }

    [Fact]
    public void A_hand_written_scenario_names_no_records()
    {
        ScenarioSources sources = ScenarioSources.FromText(File.ReadAllText(Path.Combine(RepoPaths.Examples, "gpu-32g-bar-unaligned.yaml")));
        Scenario s = ScenarioReader.Load(Path.Combine(RepoPaths.Examples, "gpu-32g-bar-unaligned.yaml"));
        Assert.All(s.Memslots, slot => Assert.Null(sources.For(slot.Where)));
        Assert.All(s.Mappings, m => Assert.Null(sources.For(m.Where)));
    }

    [Fact]
    public void Every_step_that_can_bind_and_every_kind_of_change_is_in_the_documented_mapping()
    {
        string docs = File.ReadAllText(Path.Combine(RepoPaths.RepoRoot, "docs", "advise.md"));
        foreach (Type t in DecisionJson.StepTypes.Where(t => t.GetMethod(nameof(DecisionStep.LimitsSize))!.DeclaringType == t))
            Assert.Contains($"`{DecisionJson.StepName(t)}`", docs);
        foreach (ChangeKind kind in ChangeKinds.All)
            Assert.Contains($"`{ChangeKinds.Name(kind)}`", docs);
    }
}
