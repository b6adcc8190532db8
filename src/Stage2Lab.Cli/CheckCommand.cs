using System.CommandLine;
using System.Text;
using Stage2Lab.Reports;
using Stage2Lab.Simulation.Invariants;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Cli;

/// <summary>`s2lab check SCENARIO`: every policy with the invariant checker on; exit code 1 on a violation.</summary>
internal static class CheckCommand
{
    /// <summary>Violations kept per policy (the first ones; the count says how many were kept).</summary>
    private const int MaxViolations = 20;

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var scenario = ScenarioCommands.ScenarioArgument("A scenario file (YAML or JSON), e.g. a fuzzer's reproducer, or - for standard input. Required; it may also come right after the --policies names.");
        var policies = PolicyOptions.Many("Policies to check (default: the scenario's list).");
        var maxMemory = ScenarioCommands.MaxMemoryOption();
        var output = new OutputOptions(withReport: false);
        var command = new Command("check", "Run a scenario under every policy with the invariant checker after every access and event (stage2-model.md §6); report each violation with the fault that caused it (exit 1).")
        {
            scenario,
            policies,
            maxMemory,
        };
        output.AddTo(command);
        PolicyOptions.ResolveScenario(command, scenario, policies);
        command.SetAction(parse => CommandGuard.Run(stderr, () =>
        {
            output.Preflight(parse);
            var (file, given) = PolicyOptions.Get(parse, scenario, policies);
            Scenario s = ScenarioCommands.LoadScenario(file);
            string[] names = given.Length > 0 ? given : s.Vm.Policies.ToArray();
            ScenarioCommands.EnsureMemory(s, names, check: true, parse.GetValue(maxMemory));
            ScenarioResult result = ScenarioCommands.Execute(s, names, stderr, new RunOptions { Check = true, MaxViolations = MaxViolations, CaptureDecisions = false });
            string text = Render(s, result);
            var shown = new CommandOutput([], text, $"```\n{text}```\n", stream => JsonReport.Write(stream, result, "check"), null);
            return ExitCodes.Worse(ScenarioCommands.Outcome(result), output.Emit(parse, shown, stdout, stderr));
        }));
        return command;
    }

    private static string Render(Scenario s, ScenarioResult result)
    {
        var text = new StringBuilder();
        text.Append($"check {s.Name} ({Path.GetFileName(s.SourceFile)})\n");
        foreach (PolicyRun check in result.Runs)
        {
            if (check.Violations.Count == 0)
            {
                text.Append($"  {check.Policy,-16} ok: {Format.Count(check.EventsChecked)} accesses and events checked\n");
                continue;
            }
            text.Append($"  {check.Policy,-16} {check.Violations.Count} invariant violation(s), the first after timeline event {check.FirstViolatingEvent}:\n");
            foreach (InvariantViolation v in check.Violations)
                text.Append("    - ").Append(v.ToString()).Append('\n');
            if (check.FirstViolatingFault is not null)
            {
                text.Append("    the fault that caused the first one:\n");
                foreach (string line in DecisionText.Render(check.FirstViolatingFault).Split('\n', StringSplitOptions.RemoveEmptyEntries))
                    text.Append("      ").Append(line).Append('\n');
            }
        }
        return text.ToString();
    }
}
