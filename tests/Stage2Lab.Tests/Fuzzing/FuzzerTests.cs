using Stage2Lab.Simulation.Fuzzing;
using Stage2Lab.Simulation.Invariants;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Tests.Fuzzing;

/// <summary>Small, fixed-seed campaigns: the historical bugs are found again, ordinary layouts stay clean.</summary>
public class FuzzerTests
{
    private static FuzzReport Fuzz(string policy, FuzzLayout layout, long events, InvariantKind? only = null, ulong seed = 1) =>
        Fuzzer.Run(new FuzzOptions { Policy = policy, Layout = layout, MaxEvents = events, Seed = seed, OnlyKind = only, ShrinkExecutions = 1000 });

    [Fact]
    public void V5_9_thp_adjust_on_a_device_pfn_is_found_again()
    {
        FuzzReport report = Fuzz("v5.9", FuzzLayout.Any, 20_000, InvariantKind.NoThpOnDevicePfn);
        Assert.NotNull(report.Finding);
        Assert.Equal(InvariantKind.NoThpOnDevicePfn, report.Finding!.Violation.Kind);
        Assert.True(report.Finding.EventsAfterShrinking <= 3);
    }

    [Theory]
    [InlineData("v5.14")]
    [InlineData("v6.18")]
    public void Wrong_pa_blocks_from_remapped_pfnmap_vmas_are_found(string policy)
    {
        FuzzReport report = Fuzz(policy, FuzzLayout.Any, 20_000, InvariantKind.PaMatchesHost);
        Assert.Equal(InvariantKind.PaMatchesHost, report.Finding?.Violation.Kind);
    }

    [Fact]
    public void The_block_past_the_vma_end_is_found_under_v6_18()
    {
        FuzzReport report = Fuzz("v6.18", FuzzLayout.Any, 20_000, InvariantKind.LeafInOneVma);
        Assert.Equal(InvariantKind.LeafInOneVma, report.Finding?.Violation.Kind);
    }

    [Theory]
    [InlineData("bug-no-pa-align", InvariantKind.PaMatchesHost)]
    [InlineData("bug-no-vma-bound", InvariantKind.LeafInOneVma)]
    [InlineData("bug-log-blocks", InvariantKind.LoggingSlotLeaves)]
    public void Each_careless_variant_is_caught_on_ordinary_layouts(string policy, InvariantKind kind)
    {
        FuzzReport report = Fuzz(policy, FuzzLayout.Ordinary, 50_000);
        Assert.Equal(kind, report.Finding?.Violation.Kind);
    }

    [Theory]
    [InlineData("v5.13")]
    [InlineData("seed-v3")]
    [InlineData("v5.14")]
    [InlineData("v6.18")]
    [InlineData("v7.4")]
    [InlineData("host-pte")]
    public void Kernel_policies_keep_every_invariant_on_ordinary_layouts(string policy)
    {
        FuzzReport report = Fuzz(policy, FuzzLayout.Ordinary, 15_000, seed: 7);
        Assert.Null(report.Finding);
        Assert.True(report.Events >= 15_000);
    }

    [Theory]
    [InlineData("v6.18")]
    [InlineData("v7.4")]
    public void Pkvm_guests_keep_every_invariant_on_ordinary_layouts(string policy)
    {
        // ProtectedKvmBlockSize included: under pKVM no leaf is a block larger than PMD_SIZE.
        FuzzReport report = Fuzzer.Run(new FuzzOptions { Policy = policy, Flavor = Stage2Lab.Kvm.VmFlavor.Pkvm, Layout = FuzzLayout.Ordinary, MaxEvents = 15_000, Seed = 7 });
        Assert.Null(report.Finding);
        Assert.True(report.Events >= 15_000);
    }

    [Fact]
    public void A_pkvm_case_is_a_pkvm_scenario()
    {
        var choice = new CaseChoice(0, 0, [new VmaChoice(2, 0, 0, 0, 3)], [new EventChoice(0, 0, 0, 0)]);
        Scenario s = FuzzCaseBuilder.Build(choice, FuzzLayout.Ordinary, "v7.4", Stage2Lab.Kvm.VmFlavor.Pkvm);
        Assert.Equal(Stage2Lab.Kvm.VmFlavor.Pkvm, s.Vm.Pkvm);
        Assert.Equal(Stage2Lab.Kvm.VmFlavor.Pkvm, ScenarioReader.Parse(ScenarioWriter.Write(s), "r.yaml").Vm.Pkvm); // reproducers keep it
    }

    [Fact]
    public void A_campaign_is_deterministic_per_seed()
    {
        FuzzReport a = Fuzz("v6.18", FuzzLayout.Any, 5_000, seed: 11);
        FuzzReport b = Fuzz("v6.18", FuzzLayout.Any, 5_000, seed: 11);
        Assert.Equal(a.Cases, b.Cases);
        Assert.Equal(a.Events, b.Events);
        Assert.Equal(a.Finding?.Violation.ToString(), b.Finding?.Violation.ToString());
        Assert.Equal(a.Finding is null ? "" : ScenarioWriter.Write(a.Finding.Reproducer), b.Finding is null ? "" : ScenarioWriter.Write(b.Finding.Reproducer));
    }

    [Theory]
    [InlineData("bug-no-vma-bound", 20_000L, 0L)] // a violation at case 365: the count stops there on every thread
    [InlineData("v6.18", 9_000L, 0L)] // an event budget: spent in the middle of some thread's chunk
    [InlineData("v6.18", 0L, 333L)] // a case budget that no chunk size divides
    public void Any_number_of_jobs_counts_what_one_job_counts(string policy, long events, long cases)
    {
        var progress = new List<long>[5];
        FuzzReport Run(int jobs)
        {
            var seen = progress[jobs] = new List<long>();
            return Fuzzer.Run(new FuzzOptions
            {
                Policy = policy,
                Layout = FuzzLayout.Ordinary,
                MaxEvents = events,
                MaxCases = cases,
                Jobs = jobs,
                ShrinkExecutions = 300,
                Progress = (done, _) => seen.Add(done),
            });
        }
        FuzzReport one = Run(1);
        foreach (int jobs in new[] { 2, 3, 4 })
        {
            FuzzReport many = Run(jobs);
            Assert.Equal(one.Cases, many.Cases);
            Assert.Equal(one.Events, many.Events);
            Assert.Equal(one.Finding?.CaseIndex, many.Finding?.CaseIndex);
            Assert.Equal(one.Finding?.EventsToFind, many.Finding?.EventsToFind);
            Assert.Equal(one.Finding is null ? "" : ScenarioWriter.Write(one.Finding.Reproducer), many.Finding is null ? "" : ScenarioWriter.Write(many.Finding.Reproducer));
            // Progress is reported at the same counts, in order, whichever thread counted.
            Assert.Equal(progress[1], progress[jobs]);
        }
    }

    [Fact]
    public void The_shrunk_reproducer_is_a_scenario_check_reproduces()
    {
        FuzzReport report = Fuzz("v5.14", FuzzLayout.Any, 20_000, InvariantKind.PaMatchesHost);
        string yaml = ScenarioWriter.Write(report.Finding!.Reproducer, ["a test reproducer"]);
        Scenario again = ScenarioReader.Parse(yaml, "repro.yaml");
        Stage2Lab.Simulation.Runs.PolicyRun check = Stage2Lab.Simulation.Runs.ScenarioCheck.Run(again, "v5.14");
        Assert.Contains(check.Violations, v => v.Kind == InvariantKind.PaMatchesHost);
        Assert.NotNull(check.FirstViolatingFault);
    }
}
