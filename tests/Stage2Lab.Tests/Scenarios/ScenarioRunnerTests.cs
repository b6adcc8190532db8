using Stage2Lab.Kvm;
using Stage2Lab.PageTables;
using Stage2Lab.Reports;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Tests.Scenarios;

public class ScenarioRunnerTests
{
    private static Scenario Example(string name) => ScenarioReader.Load(Path.Combine(RepoPaths.Examples, name));

    [Fact]
    public void The_gpu_example_tells_the_seed_story()
    {
        Scenario s = Example("gpu-32g-bar-aligned.yaml");
        PolicyRun before = ScenarioRunner.Run(s, "v5.13", new RunOptions { CaptureDecisions = false });
        PolicyRun after = ScenarioRunner.Run(s, "v6.18", new RunOptions { CaptureDecisions = false });

        // 5.13: kvm_phys_addr_ioremap maps the 32 GiB BAR page by page when the slot is created.
        Assert.Equal(32L << 30 >> 12, before.Phases[0].Events[Stage2Counter.LeavesInstalledL3]);
        Assert.Equal(32L << 30 >> 12, before.Final.Leaves[3]);
        // 6.18: nothing at slot creation; the driver's first touch of each GiB maps a 1 GiB block.
        Assert.Equal(0, after.Phases[0].Events.LeavesInstalled);
        Assert.Equal(32, after.Final.Leaves[1]);
        Assert.Equal(0, after.Final.Leaves[3]);
        // RAM: 16 GiB of THP-backed memory in 2 MiB blocks under both.
        Assert.Equal(8192, before.Final.Leaves[2]);
        Assert.Equal(8192, after.Final.Leaves[2]);
        Assert.True(before.Final.TableBytes > 60L << 20);
        Assert.True(after.Final.TableBytes < 128L << 10);
    }

    [Fact]
    public void The_same_scenario_gives_byte_identical_json()
    {
        Scenario s = Example("live-migration.yaml");
        string first = JsonReport.Render(ScenarioRunner.RunAll(s, ["v5.14", "v6.18"]), "compare");
        string second = JsonReport.Render(ScenarioRunner.RunAll(Example("live-migration.yaml"), ["v5.14", "v6.18"]), "compare");
        Assert.Equal(first, second);
        Assert.Contains("\"schema\": \"stage2lab.result/3\"", first);
    }

    [Fact]
    public void Dirty_logging_harvests_pages_and_blocks_come_back_after_logging_stops()
    {
        PolicyRun run = ScenarioRunner.Run(Example("live-migration.yaml"), "v6.18", new RunOptions { CaptureDecisions = false });
        PhaseResult harvest = run.Phases.Single(p => p.Name == "harvest-1");
        Assert.True(harvest.DirtyPagesHarvested > 0);
        PhaseResult round = run.Phases.Single(p => p.Name == "round-1");
        // While logging only pages are installed.
        Assert.Equal(round.Events.LeavesInstalled, round.Events[Stage2Counter.LeavesInstalledL3]);
        PhaseResult after = run.Phases.Single(p => p.Name == "after-migration");
        Assert.True(after.Events[Stage2Counter.LeavesInstalledL2] > 0);
        Assert.Equal(4L << 30 >> 21, run.Final.Leaves[2]);
    }

    [Fact]
    public void Mmio_exits_are_counted_where_no_memslot_is()
    {
        PolicyRun run = ScenarioRunner.Run(Example("nic-small-bars-mmio.yaml"), "v6.18", new RunOptions { CaptureDecisions = false });
        Assert.Equal(50_000 + 512, run.TotalFaults.MmioExits);
    }

    [Fact]
    public void Explain_finds_the_first_fault_at_the_ipa_and_says_why()
    {
        Scenario s = Example("gpu-32g-bar-unaligned.yaml");
        PolicyRun run = ScenarioRunner.Run(s, "v6.18", new RunOptions { ExplainIpa = 0x80_0000_0000, CaptureDecisions = false });
        Assert.NotNull(run.Explained);
        Assert.Equal(ExplainPick.ReadAfterLastEvent, run.Explained!.Pick); // 200,000 random accesses miss the first of 8M pages
        string text = DecisionText.Render(run.Explained.Record);
        Assert.Contains("✗ get_vma_page_shift: 1G: hva", text);
        Assert.Contains("✗ get_vma_page_shift: 2M: hva", text);
        Assert.Contains("map IPA 0x8000000000 size 4K", text);
    }

    [Fact]
    public void Explaining_an_ipa_the_timeline_never_faults_on_issues_a_read_after_it()
    {
        PolicyRun run = ScenarioRunner.Run(Example("ram-hugetlb-1g.yaml"), "v6.18", new RunOptions { ExplainIpa = 0x10_0000_0000, CaptureDecisions = false });
        Assert.Equal(ExplainPick.ReadAfterLastEvent, run.Explained!.Pick);
        Assert.Contains("MMIO", DecisionText.Render(run.Explained.Record));
    }

    [Fact]
    public void Decisions_are_grouped_by_slot_outcome_size_and_binding_constraint()
    {
        PolicyRun run = ScenarioRunner.Run(Example("ram-hugetlb-1g.yaml"), "v6.18");
        // Every fault is in exactly one group.
        Assert.Equal(run.TotalFaults.Faults, run.Decisions.Sum(d => d.Count));
        // No two groups share (slot, outcome, size, binding constraint).
        var keys = run.Decisions.Select(d => (d.Representative.Slot?.Id, d.Representative.Result.Outcome, d.Representative.Result.SizeBytes,
            d.Representative.BindingConstraint?.GetType(), d.Representative.BindingConstraint is HugeMappingCheckStep h ? h.SizeBytes : 0)).ToList();
        Assert.Equal(keys.Count, keys.Distinct().Count());
        // 1 GiB blocks cost a 1 GiB clean each without FWB: the costliest group is the aligned slot's 1G blocks,
        // which nothing kept smaller (no binding constraint).
        DecisionGroup first = run.Decisions[0];
        Assert.Equal(1UL << 30, first.Representative.Result.SizeBytes);
        Assert.Null(first.Representative.BindingConstraint);
        Assert.Equal(1L << 30, first.Representative.Events[Stage2Counter.DcacheCleanBytes]);
        // The misaligned slot falls back to 2M: its binding constraint is the slot's 1G residue check.
        DecisionGroup fallback = Assert.Single(run.Decisions, d => d.Representative.Result.SizeBytes == 2UL << 20);
        var binding = Assert.IsType<HugeMappingCheckStep>(fallback.Representative.BindingConstraint);
        Assert.Equal(1UL << 30, binding.SizeBytes);
        Assert.Equal(HugeMappingResult.ResidueMismatch, binding.Result);
    }

    [Fact]
    public void V5_13_slot_creation_is_a_decision_of_its_own()
    {
        PolicyRun run = ScenarioRunner.Run(Example("gpu-32g-bar-aligned.yaml"), "v5.13");
        DecisionGroup creation = Assert.Single(run.Decisions, d => d.Representative.SlotChange is not null);
        var ioremap = Assert.IsType<IoremapAtCreationStep>(Assert.Single(creation.Representative.Steps));
        Assert.Equal(32UL << 30 >> 12, ioremap.Pages);
        Assert.Equal(32L << 30 >> 12, creation.Representative.Events[Stage2Counter.LeavesInstalledL3]);
    }

    [Fact]
    public void Reports_render_in_every_format()
    {
        ScenarioResult result = ScenarioRunner.RunAll(Example("device-reset-zap.yaml"), ["v5.13", "v6.18"]);
        string md = MarkdownWriter.Render(RunTables.Compare(result));
        Assert.Contains("| leaves mapped at slot creation | 1,048,576 | 0 ×0 |", md);
        string html = HtmlReport.Render(result);
        Assert.StartsWith("<!DOCTYPE html>", html);
        Assert.Contains("<svg", html);
        Assert.DoesNotContain("<script", html);
        Assert.DoesNotContain("http://", html.Replace("http://www.w3.org/2000/svg", ""));
    }
}
