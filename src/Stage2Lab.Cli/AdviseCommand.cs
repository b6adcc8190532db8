using System.CommandLine;
using Stage2Lab.Kvm.Policies;
using Stage2Lab.Reports;
using Stage2Lab.Simulation.Advice;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Cli;

/// <summary>`s2lab advise`: what stops each slot from getting larger mappings, and the verified changes that lift it.</summary>
internal static class AdviseCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var scenario = new Argument<string>("scenario") { Description = "A scenario file (YAML or JSON), e.g. one written by s2lab import." };
        var policies = new Option<string[]>("--policy")
        {
            Description = "A policy to advise for; repeat for several (default: the scenario's list). Choices: " + string.Join(", ", PolicyRegistry.TargetNames) + ".",
            HelpName = "POLICY",
        };
        policies.AcceptOnlyFromAmong([.. PolicyRegistry.TargetNames]);
        var output = new OutputOptions(withReport: false, jsonSchema: AdviceJson.Schema);
        var jobs = new Option<int?>("--jobs") { Description = "Runs made at the same time (default: one per core); the output does not depend on it." };
        var maxMemory = ScenarioCommands.MaxMemoryOption();
        var tlb = TlbOption.Create("The guest TLB model's profile: suggestions are ranked by host plus guest translation time; off ranks by host time alone.");
        var command = new Command("advise", "For each memslot and policy: the sizes its faults got and the check that stopped a larger one (the binding constraint); then the changes that lift "
            + "those constraints (align-hva, align-ipa, resize-slot, split-slot, thp, hugetlb, host-huge-pfnmap, granule, no-dirty-logging), each verified by running the changed scenario, "
            + "ranked by the estimated time saved. A change that saves nothing is not shown.")
        {
            scenario,
            policies,
            jobs,
            maxMemory,
            tlb,
        };
        output.AddTo(command);
        command.SetAction(parse => CommandGuard.Run(stderr, () =>
        {
            output.Preflight(parse);
            string path = parse.GetValue(scenario)!;
            Scenario s = ScenarioCommands.LoadScenario(path);
            string[] names = parse.GetValue(policies) is { Length: > 0 } given ? [.. given.Distinct()] : [.. s.Vm.Policies];
            if (parse.GetValue(jobs) is { } j && j < 1)
                throw new UsageException($"--jobs {j} must be at least 1");
            string? maxText = parse.GetValue(maxMemory);
            ScenarioCommands.EnsureMemory(s, names, false, maxText);
            InternalError.Activity = $"advising on {path}";
            AdviceResult result = ProgressDisplay.Run(stderr, progress =>
            {
                ProgressDisplay.Line line = progress.Add("advise");
                line.Start();
                AdviceResult advice = Advisor.Advise(s, new AdviceOptions
                {
                    Policies = names,
                    Tlb = TlbOption.Profile(parse, tlb),
                    MaxParallelism = parse.GetValue(jobs) ?? Environment.ProcessorCount,
                    MemoryLimitBytes = maxText is not null && Stage2Lab.Arch.NumberText.TryParse(maxText.Replace("_", "", StringComparison.Ordinal), out ulong limit) ? limit : MemoryEstimator.DefaultLimitBytes,
                    Sources = path == "-" ? ScenarioSources.None : ScenarioSources.Read(path),
                    Progress = (done, total) => line.Report(done, total),
                });
                line.Done();
                return advice;
            });
            var shown = new CommandOutput(
                AdviceTables.Render(result),
                "",
                "",
                CommandOutput.JsonText(() => AdviceJson.Render(result)),
                null);
            return output.Emit(parse, shown, stdout, stderr);
        }));
        return command;
    }
}
