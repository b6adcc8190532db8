using Stage2Lab.PageTables;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Tests.Scenarios;

/// <summary>The benchmark inputs under bench/ stay valid scenarios (they are timed, never run by the suite).</summary>
public class BenchScenarioTests
{
    private static string BarScenario =>
        Path.Combine(RepoPaths.RepoRoot, "bench", "Stage2Lab.Benchmarks", "Scenarios", "bar-256g-v5.13.yaml");

    [Fact]
    public void The_256g_bar_scenario_loads_and_a_1g_cut_of_it_maps_every_page_at_slot_creation_under_v5_13()
    {
        Scenario full = ScenarioReader.Load(BarScenario);
        Assert.Equal("bar-256g-v5.13", full.Name);

        string text = File.ReadAllText(BarScenario).Replace("size: 256G", "size: 1G", StringComparison.Ordinal);
        PolicyRun run = ScenarioRunner.Run(ScenarioReader.Parse(text, BarScenario), "v5.13", new RunOptions { CaptureDecisions = false });

        // kvm_phys_addr_ioremap: every 4K page of the BAR at slot creation, nothing bigger.
        Assert.Equal(1L << 30 >> 12, run.Phases[0].Events[Stage2Counter.LeavesInstalledL3]);
        Assert.Equal(1L << 30 >> 12, run.Final.Leaves[3]);
        Assert.Equal(0, run.Final.Leaves[2]);
    }
}
