using System.CommandLine;
using System.Text;
using Stage2Lab.Kvm.Policies;
using Stage2Lab.Reports;
using Stage2Lab.Simulation.Invariants;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Cli;

/// <summary>`s2lab check SCENARIO`: every policy with the invariant checker on; exit code 1 on a violation.</summary>
internal static class CheckCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var scenario = new Argument<string>("scenario") { Description = "A scenario file (YAML or JSON), e.g. a fuzzer's reproducer." };
        var policies = PolicyOptions.Many("Policies to check (default: the scenario's list).");
        var maxMemory = ScenarioCommands.MaxMemoryOption();
        var command = new Command("check", "Run a scenario under every policy with the invariant checker after every access and event (stage2-model.md §6); report each violation with the fault that caused it. " + ExitCodes.HelpText)
        {
            scenario,
            policies,
            maxMemory,
        };
        command.SetAction(parse => ScenarioCommands.Guard(stderr, () =>
        {
            Scenario s = ScenarioCommands.Load(parse.GetValue(scenario)!);
            string[] names = parse.GetValue(policies) is { Length: > 0 } given ? given : s.Vm.Policies.ToArray();
            ScenarioCommands.EnsureMemory(s, names, check: true, parse.GetValue(maxMemory));
            var text = new StringBuilder();
            text.Append($"check {s.Name} ({Path.GetFileName(s.SourceFile)})\n");
            bool failed = false;
            foreach (string name in names)
            {
                InternalError.Activity = $"checking {s.SourceFile} under {name}";
                PolicyRun check = ScenarioCheck.Run(s, name);
                if (check.Violations.Count == 0)
                {
                    text.Append($"  {name,-16} ok: {Format.Count(check.EventsChecked)} accesses and events checked\n");
                    continue;
                }
                failed = true;
                text.Append($"  {name,-16} {check.Violations.Count} invariant violation(s), the first after timeline event {check.FirstViolatingEvent}:\n");
                foreach (InvariantViolation v in check.Violations)
                    text.Append("    - ").Append(v.ToString()).Append('\n');
                if (check.FirstViolatingFault is not null)
                {
                    text.Append("    the fault that caused the first one:\n");
                    foreach (string line in DecisionText.Render(check.FirstViolatingFault).Split('\n', StringSplitOptions.RemoveEmptyEntries))
                        text.Append("      ").Append(line).Append('\n');
                }
            }
            stdout.Write(text.ToString());
            return failed ? ExitCodes.Failed : ExitCodes.Ok;
        }));
        return command;
    }
}
