using Stage2Lab.Kvm;
using Stage2Lab.Kvm.Policies;
using Stage2Lab.Simulation.Invariants;
using Stage2Lab.Simulation.Metrics;
using Stage2Lab.Simulation.Playback;
using Stage2Lab.Simulation.Scenarios;
using Stage2Lab.Simulation.Workloads;

namespace Stage2Lab.Simulation.Runs;

/// <summary>
/// A scenario under one policy, played once by <see cref="TimelinePlayer"/> with the observers the options ask
/// for: metrics always, representative decisions, the invariant checker, the explained fault.
/// </summary>
public static class ScenarioRunner
{
    public static ScenarioResult RunAll(Scenario scenario, IEnumerable<string> policies, RunOptions? options = null)
    {
        var result = new ScenarioResult { Scenario = scenario.Name, File = scenario.SourceFile, Description = scenario.Description };
        options = (options ?? new RunOptions()) with { AccessStreams = options?.AccessStreams ?? new AccessStreamCache() };
        foreach (string policy in policies)
            result.Runs.Add(Run(scenario, policy, options));
        return result;
    }

    private static string FlavorNote(VmFlavor? flavor) => flavor switch
    {
        VmFlavor.Pkvm => "; here a non-protected guest under protected KVM (pkvm)",
        VmFlavor.ProtectedPkvm => "; here a protected guest under protected KVM",
        _ => "",
    };

    public static PolicyRun Run(Scenario scenario, string policyName, RunOptions? options = null)
    {
        options ??= new RunOptions();
        PolicyTarget target = PolicyRegistry.FindTarget(policyName) ?? throw new ArgumentException($"unknown policy '{policyName}'", nameof(policyName));
        PolicyDescriptor descriptor = target.Policy;
        CostProfile profile = CostProfiles.TryGet(scenario.Vm.CostProfile) ?? CostProfiles.ForFeatures(scenario.Vm.Fwb);
        var run = new PolicyRun { Policy = target.Name, Description = descriptor.Description + FlavorNote(target.Flavor), Profile = profile, Granule = scenario.Host.PageSize };

        var observers = new List<ITimelineObserver> { new MetricsRecorder(run) };
        DecisionCollector? decisions = options.CaptureDecisions ? new DecisionCollector(profile) : null;
        if (decisions is not null)
            observers.Add(decisions);
        GuestTlbObserver? tlb = options.Tlb is { } tlbProfile ? new GuestTlbObserver(tlbProfile, GuestTlbObserver.GuestOf(scenario)) : null;
        if (tlb is not null)
            observers.Add(tlb);
        var control = new PlaybackControl();
        InvariantRunChecker? checker = options.Check ? new InvariantRunChecker(options.MaxViolations, options.StopOnViolation ? control : null) : null;
        if (checker is not null)
            observers.Add(checker);
        // Last: with nothing to pick, it issues one more access after the final state was measured.
        ExplainObserver? explain = options.ExplainIpa is { } ipa ? new ExplainObserver(ipa, options.ExplainEvent) : null;
        if (explain is not null)
            observers.Add(explain);

        var player = new TimelinePlayer(scenario, policyName, new PlayerOptions
        {
            ExplainFaults = decisions is not null || checker is not null || explain is not null,
            RecordFaultEvents = decisions is not null || explain is not null || checker is not null,
            Progress = options.Progress,
            Control = control,
            AccessStreams = options.AccessStreams,
            TablePages = options.TablePages,
        });
        player.Play(observers);

        tlb?.Complete(run);
        if (decisions is not null)
            run.Decisions.AddRange(decisions.Groups());
        if (checker is not null)
        {
            run.Violations.AddRange(checker.Violations);
            run.EventsChecked = checker.EventsChecked;
            run.FirstViolatingEvent = checker.FirstViolatingEvent;
            run.FirstViolatingFault = checker.FirstViolatingFault;
        }
        run.Explained = explain?.Explained;
        if (options.TablePages is not null)
            player.Vm.ReturnTablePages();
        return run;
    }
}
