using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Invariants;

/// <summary>One policy's invariant check of a scenario.</summary>
public sealed record PolicyCheck(string Policy, long EventsChecked, IReadOnlyList<InvariantViolation> Violations, DecisionRecord? FirstFault, int? FirstEvent);

/// <summary>`s2lab check`: a scenario under each policy with the invariant checker after every access and event.</summary>
public static class ScenarioCheck
{
    public static PolicyCheck Run(Scenario scenario, string policy, int maxViolations = 20)
    {
        var checker = new InvariantRunChecker(maxViolations);
        ScenarioRunner.Run(scenario, policy, new RunOptions { Checker = checker, CostliestDecisions = 0 });
        DecisionRecord? decision = null;
        if (checker.FirstViolatingAccess is { } access)
        {
            // Explain the fault that broke the first invariant: replay the run up to that access.
            decision = ScenarioRunner.ExplainAccess(scenario, policy, access);
        }
        return new PolicyCheck(policy, checker.EventsChecked, checker.Violations, decision, checker.FirstViolatingEvent);
    }
}
