using Stage2Lab.Simulation.Advice;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Scenarios;
using Stage2Lab.Simulation.Tlb;

namespace Stage2Lab.Tests.Tlb;

/// <summary>
/// The TLB model in runs (GuestTlbObserver): one fresh model per VM, per-phase counters that add up to the run's,
/// KVM's invalidations reaching it, L2-guest accesses left out, and advise ranking by host plus guest time.
/// </summary>
public class TlbWiringTests
{
    private static readonly RunOptions On = new() { CaptureDecisions = false, Tlb = TlbProfiles.NeoverseN1 };

    private static Scenario Example(string name) => ScenarioReader.Load(Path.Combine(RepoPaths.Examples, name));

    [Fact]
    public void Each_policy_s_vm_gets_its_own_model_and_the_phases_add_up()
    {
        Scenario s = Example("device-reset-zap.yaml");
        ScenarioResult both = ScenarioRunner.RunAll(s, ["v5.13", "v6.18"], On);
        PolicyRun alone = ScenarioRunner.Run(s, "v6.18", On);
        PolicyRun second = both.Runs[1];
        // Had the second VM inherited the first's TLBs or counters, its counts would differ from a run of its own.
        Assert.Equal(alone.Phases.Count, second.Phases.Count);
        for (int p = 0; p < alone.Phases.Count; p++)
        {
            foreach (TlbStat stat in TlbStatNames.All)
                Assert.Equal(alone.Phases[p].Tlb!.Value[stat], second.Phases[p].Tlb!.Value[stat]);
        }
        TlbCounters total = second.TotalTlb!.Value;
        Assert.Equal((long)second.TotalFaults.Accesses, total.Accesses);
        Assert.Equal(second.Phases.Sum(p => p.EstimatedGuestNs), second.TotalEstimatedGuestNs);
        Assert.Equal(TlbProfiles.NeoverseN1.EstimateNs(total), second.TotalEstimatedGuestNs, 6);
        Assert.Same(TlbProfiles.NeoverseN1, second.TlbProfile);
    }

    [Fact]
    public void The_device_reset_zap_empties_the_guest_tlb_and_the_next_phase_walks_again()
    {
        PolicyRun run = ScenarioRunner.Run(Example("device-reset-zap.yaml"), "v6.18", On);
        PhaseResult zap = run.Phases.Single(p => p.Name == "device-reset");
        TlbCounters z = zap.Tlb!.Value;
        Assert.True(z[TlbStat.L2FlushTlb] > 0, "the MMU notifier's unmap issued no TLBI the model saw");
        Assert.True(z[TlbStat.DtbFlushedEntries] > 0 && z[TlbStat.L2FlushedEntries] > 0);
        Assert.Equal(0, z.Accesses);
        Assert.True(run.Phases.Single(p => p.Name == "after-reset").Tlb!.Value[TlbStat.Walks] > 0);
    }

    [Fact]
    public void Tlb_off_records_nothing()
    {
        PolicyRun run = ScenarioRunner.Run(Example("device-reset-zap.yaml"), "v6.18", new RunOptions { CaptureDecisions = false });
        Assert.Null(run.TlbProfile);
        Assert.Null(run.TotalTlb);
        Assert.All(run.Phases, p => Assert.Null(p.Tlb));
        Assert.Equal(0, run.TotalEstimatedGuestNs);
    }

    [Fact]
    public void L2_guest_accesses_are_not_fed_to_the_l1_guest_s_tlb()
    {
        PolicyRun run = ScenarioRunner.Run(Example("nested-l2-guest.yaml"), "v7.4", On);
        foreach (PhaseResult p in run.Phases)
        {
            long fed = p.Tlb!.Value.Accesses;
            if (p.Name.StartsWith("l2-", StringComparison.Ordinal))
                Assert.Equal(0, fed);
            else
                Assert.Equal((long)p.Accesses, fed);
        }
        Assert.True(run.Phases.Single(p => p.Name == "l1-boot").Tlb!.Value.Accesses > 0);
    }

    [Fact]
    public void Advise_ranks_by_host_plus_guest_time()
    {
        Scenario s = Example("gpu-32g-bar-unaligned.yaml");
        AdviceResult result = Advisor.Advise(s, new AdviceOptions { Policies = ["v6.18"], MaxParallelism = 2, Tlb = TlbProfiles.NeoverseN1 });
        Suggestion first = result.Suggestions[0];
        Assert.Equal(ChangeKind.AlignHva, first.Change.Kind);
        foreach (RunMetrics m in new[] { first.Before, first.After })
        {
            Assert.True(m.GuestEstimatedNs > 0);
            Assert.Equal(m.HostEstimatedNs + m.GuestEstimatedNs, m.EstimatedNs, 3);
        }
        // 1G blocks for the BAR make the guest's walks cheaper too: part of what the change saves.
        Assert.True(first.After.GuestEstimatedNs < first.Before.GuestEstimatedNs);
        Assert.Equal(AdviceTime.Ns(result.Baselines[0]), result.Baselines[0].TotalEstimatedNs + result.Baselines[0].TotalEstimatedGuestNs);
    }
}
