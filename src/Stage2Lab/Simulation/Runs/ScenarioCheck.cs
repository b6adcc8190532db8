using Stage2Lab.Simulation.Invariants;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Runs;

/// <summary>`s2lab check`: a scenario under a policy with the invariant checker after every access and event.</summary>
public static class ScenarioCheck
{
    public static PolicyRun Run(Scenario scenario, string policy, int maxViolations = 20) =>
        ScenarioRunner.Run(scenario, policy, new RunOptions { Check = true, MaxViolations = maxViolations, CaptureDecisions = false });
}
