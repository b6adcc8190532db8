using System.CommandLine;
using Stage2Lab.Kvm.Policies;
using Stage2Lab.Reports;
using Stage2Lab.Simulation.Playback;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Scenarios;
using Stage2Lab.Simulation.Workloads;

namespace Stage2Lab.Cli;

/// <summary>`s2lab run` and `s2lab compare`, and what every scenario command shares.</summary>
internal static class ScenarioCommands
{
    public static Command Run(TextWriter stdout, TextWriter stderr)
    {
        var scenario = new Argument<string>("scenario") { Description = "A scenario file (YAML or JSON, see docs/scenario-format.md), or - for standard input." };
        var policy = PolicyOptions.Single($"The policy (kernel version of the fault path). Default: the newest kernel the scenario lists, else the newest kernel ({PolicyRegistry.NewestKernel.Name}); never a proposal or a buggy variant.");
        var output = new OutputOptions();
        var check = CheckOption();
        var maxMemory = MaxMemoryOption();
        var tlb = TlbOption.Create();
        var command = new Command("run", "Run a scenario under one kernel policy: faults, mapping sizes, page-table memory, TLB invalidations and cache maintenance, phase by phase, and one decision of each kind explained.")
        {
            scenario,
            policy,
            check,
            maxMemory,
            tlb,
        };
        output.AddTo(command);
        command.SetAction(parse => CommandGuard.Run(stderr, () =>
        {
            output.Preflight(parse);
            Scenario s = LoadScenario(parse.GetValue(scenario)!);
            string name = parse.GetValue(policy) ?? DefaultPolicy(s);
            EnsureMemory(s, [name], parse.GetValue(check), parse.GetValue(maxMemory));
            ScenarioResult result = Execute(s, [name], stderr, new RunOptions { Check = parse.GetValue(check), Tlb = TlbOption.Profile(parse, tlb) });
            PolicyRun run = result.Runs[0];
            var shown = new CommandOutput(
                [RunTables.Phases(run), .. TlbTables.Phases(run)],
                DecisionTables.Render(run),
                DecisionTables.RenderMarkdown(run),
                stream => JsonReport.Write(stream, result, "run"),
                () => HtmlReport.Render(result));
            return ExitCodes.Worse(Outcome(result), output.Emit(parse, shown, stdout, stderr));
        }));
        return command;
    }

    public static Command Compare(TextWriter stdout, TextWriter stderr)
    {
        var scenario = ScenarioArgument("A scenario file (YAML or JSON), or - for standard input. Required; it may also come right after the --policies names.");
        var policies = PolicyOptions.Many("Policies to compare, in order (the first is the baseline of the ratios). Default: the scenario's list.");
        var output = new OutputOptions();
        var check = CheckOption();
        var maxMemory = MaxMemoryOption();
        var tlb = TlbOption.Create();
        var command = new Command("compare", "Run a scenario under every policy and show them side by side, with ratios against the first.")
        {
            scenario,
            policies,
            check,
            maxMemory,
            tlb,
        };
        output.AddTo(command);
        PolicyOptions.ResolveScenario(command, scenario, policies);
        command.SetAction(parse => CommandGuard.Run(stderr, () =>
        {
            output.Preflight(parse);
            var (file, given) = PolicyOptions.Get(parse, scenario, policies);
            Scenario s = LoadScenario(file!);
            string[] names = given.Length > 0 ? given : s.Vm.Policies.ToArray();
            EnsureMemory(s, names, parse.GetValue(check), parse.GetValue(maxMemory));
            // The representative decisions cost an explanation per fault: only for the outputs that show them.
            bool decisions = OutputOptions.Given(parse, output.Report) || parse.GetValue(output.Format) == "json";
            ScenarioResult result = Execute(s, names, stderr, new RunOptions { Check = parse.GetValue(check), CaptureDecisions = decisions, Tlb = TlbOption.Profile(parse, tlb) });
            var shown = new CommandOutput(
                [RunTables.Compare(result)],
                "",
                "",
                stream => JsonReport.Write(stream, result, "compare"),
                () => HtmlReport.Render(result));
            return ExitCodes.Worse(Outcome(result), output.Emit(parse, shown, stdout, stderr));
        }));
        return command;
    }

    /// <summary>The scenario argument; optional in the grammar where --policies may carry it (compare, check).</summary>
    internal static Argument<string?> ScenarioArgument(string description) => new("scenario")
    {
        Description = description,
        Arity = ArgumentArity.ZeroOrOne,
    };

    /// <summary>A scenario named on the command line: a file or - (standard input), recognised by its content.</summary>
    internal static Scenario LoadScenario(string? path)
    {
        if (path is null)
            throw new UsageException("give a scenario file (YAML or JSON), or - for standard input");
        return InputFile.Open(path).LoadScenario();
    }

    /// <summary>
    /// Runs the scenario under each policy in turn, with one progress line per policy on a terminal (accesses
    /// played out of the run's total; a spinner while a phase without accesses, such as slot creation, works).
    /// </summary>
    internal static ScenarioResult Execute(Scenario s, IReadOnlyList<string> policies, TextWriter stderr, RunOptions options)
    {
        var result = new ScenarioResult { Scenario = s.Name, File = s.SourceFile, Description = s.Description };
        // Several policies play the same workloads: each is drawn once.
        if (policies.Count > 1 && options.AccessStreams is null)
            options = options with { AccessStreams = new AccessStreamCache() };
        return ProgressDisplay.Run(stderr, progress =>
        {
            var lines = policies.Select(p => progress.Add(p)).ToList();
            long total = ProgressDisplay.IsShown(stderr) ? TimelinePlayer.CountAccesses(s) : 0;
            for (int i = 0; i < policies.Count; i++)
            {
                ProgressDisplay.Line line = lines[i];
                line.Start();
                line.Report(0, Math.Max(total, 1));
                InternalError.Activity = $"running {s.SourceFile} under {policies[i]}";
                result.Runs.Add(ScenarioRunner.Run(s, policies[i], options with { Progress = line.Report }));
                line.Done();
            }
            return result;
        });
    }

    /// <summary>--check: run the invariant checker too; a violation makes the run fail (exit code 1).</summary>
    internal static Option<bool> CheckOption() => new("--check")
    {
        Description = "Also check every invariant after every access and event; a violation makes the command exit with 1.",
    };

    /// <summary>--max-memory SIZE: the most a run may plan to use (default: half of the memory available).</summary>
    internal static Option<string?> MaxMemoryOption() => new("--max-memory")
    {
        Description = "The most memory a run may plan to need, e.g. 8G (default: half of what this machine makes available). A run estimated above it is refused before it starts, with the estimate.",
    };

    /// <summary>Refuses (exit 2) a run whose memory estimate is above --max-memory or the default limit.</summary>
    internal static void EnsureMemory(Scenario s, IEnumerable<string> policies, bool check, string? maxMemory)
    {
        ulong limit = MemoryEstimator.DefaultLimitBytes;
        string raise = "raise the limit with --max-memory SIZE";
        if (maxMemory is not null)
        {
            if (!Stage2Lab.Arch.NumberText.TryParse(maxMemory.Replace("_", "", StringComparison.Ordinal), out limit) || limit == 0)
                throw new UsageException($"--max-memory '{maxMemory}' is not a size; expected e.g. 8G or 512M");
            raise = "raise --max-memory if the machine has the memory";
        }
        InternalError.Activity = $"estimating the memory {s.SourceFile} needs";
        MemoryEstimator.EnsureFits(s, policies, check, limit, raise);
    }

    internal static int Outcome(ScenarioResult result) =>
        result.Runs.Any(r => r.Violations.Count > 0) ? ExitCodes.Failed : ExitCodes.Ok;

    /// <summary>Without --policy: the newest kernel the scenario lists, else the newest kernel (never a proposal or a buggy variant).</summary>
    internal static string DefaultPolicy(Scenario s) =>
        s.Vm.Policies.Where(p => PolicyRegistry.Find(p)?.Kind == PolicyKind.Kernel).OrderBy(PolicyRegistry.OrderOf).LastOrDefault()
        ?? PolicyRegistry.NewestKernel.Name;
}
