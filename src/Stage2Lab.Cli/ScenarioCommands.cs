using System.CommandLine;
using Stage2Lab.Kvm.Policies;
using Stage2Lab.Reports;
using Stage2Lab.Simulation.Invariants;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Scenarios;
using Stage2Lab.Simulation.Scripts;

namespace Stage2Lab.Cli;

/// <summary>`s2lab run`, `s2lab compare` and `s2lab explain`.</summary>
internal static class ScenarioCommands
{
    public static Command Run(TextWriter stdout, TextWriter stderr)
    {
        var scenario = new Argument<string>("scenario") { Description = "A scenario file (YAML or JSON, see docs/scenario-format.md)." };
        var policy = PolicyOptions.Single("The policy (kernel version of the fault path). Default: the newest kernel the scenario lists.");
        var output = new OutputOptions();
        var check = CheckOption();
        var maxMemory = MaxMemoryOption();
        var command = new Command("run", "Run a scenario under one kernel policy: faults, mapping sizes, page-table memory, TLB invalidations and cache maintenance, phase by phase. " + ExitCodes.HelpText)
        {
            scenario,
            policy,
            check,
            maxMemory,
        };
        output.AddTo(command);
        command.SetAction(parse => Guard(stderr, () =>
        {
            Scenario s = Load(parse.GetValue(scenario)!);
            string name = parse.GetValue(policy) ?? DefaultPolicy(s);
            EnsureMemory(s, [name], parse.GetValue(check), parse.GetValue(maxMemory));
            ScenarioResult result = Execute(s, [name], stderr, new RunOptions { Check = parse.GetValue(check) });
            output.Emit(parse, result, [RunTables.Phases(result.Runs[0])], DecisionTables.Render(result.Runs[0]), stdout);
            return Outcome(result);
        }));
        return command;
    }

    public static Command Compare(TextWriter stdout, TextWriter stderr)
    {
        var scenario = new Argument<string>("scenario") { Description = "A scenario file (YAML or JSON)." };
        var policies = PolicyOptions.Many("Policies to compare, in order (the first is the baseline of the ratios). Default: the scenario's list.");
        var output = new OutputOptions();
        var check = CheckOption();
        var maxMemory = MaxMemoryOption();
        var command = new Command("compare", "Run a scenario under every policy and show them side by side, with ratios against the first. " + ExitCodes.HelpText)
        {
            scenario,
            policies,
            check,
            maxMemory,
        };
        output.AddTo(command);
        command.SetAction(parse => Guard(stderr, () =>
        {
            Scenario s = Load(parse.GetValue(scenario)!);
            string[] names = parse.GetValue(policies) is { Length: > 0 } given ? given : s.Vm.Policies.ToArray();
            EnsureMemory(s, names, parse.GetValue(check), parse.GetValue(maxMemory));
            ScenarioResult result = Execute(s, names, stderr, new RunOptions { Check = parse.GetValue(check), CaptureDecisions = false });
            output.Emit(parse, result, [RunTables.Compare(result)], "", stdout);
            return Outcome(result);
        }));
        return command;
    }

    public static Command Explain(TextWriter stdout, TextWriter stderr)
    {
        var file = new Argument<string>("file") { Description = "A scenario file, or an .s2faults script (with --line)." };
        var ipa = new Option<string?>("--ipa") { Description = "Scenario: the IPA whose fault to explain (hex, or with K/M/G suffix)." };
        var policy = PolicyOptions.Single("The policy (default: the newest kernel the scenario lists; for a script, its policy header).");
        var ev = new Option<int?>("--event") { Description = "Scenario: only a fault during this timeline event (1-based)." };
        var line = new Option<int?>("--line") { Description = ".s2faults script: the line of the access to explain." };
        var maxMemory = MaxMemoryOption();
        var output = new OutputOptions();
        var command = new Command("explain", "Explain one fault step by step: the slot and VMA found, every size tried and why it passed or failed, the final size and prot, and the page-table work it caused. " + ExitCodes.HelpText)
        {
            file,
            ipa,
            policy,
            ev,
            line,
            maxMemory,
        };
        output.AddTo(command);
        command.SetAction(parse => Guard(stderr, () =>
        {
            string path = parse.GetValue(file)!;
            if (path.EndsWith(".s2faults", StringComparison.OrdinalIgnoreCase))
                return ExplainScriptLine(path, parse.GetValue(line), parse.GetValue(policy), stdout);
            if (parse.GetValue(ipa) is not { } ipaText)
                throw new UsageException("explain needs --ipa ADDR for a scenario (or --line N for an .s2faults script)");
            if (!Stage2Lab.Arch.NumberText.TryParse(ipaText.Replace("_", ""), out ulong ipaValue))
                throw new UsageException($"--ipa '{ipaText}' is not an address; expected hex like 0x8000_0000 or a size like 2G");
            Scenario s = Load(path);
            string name = parse.GetValue(policy) ?? DefaultPolicy(s);
            int? eventNumber = parse.GetValue(ev);
            if (eventNumber is { } n && (n < 1 || n > s.Timeline.Count))
                throw new UsageException($"--event {n} is out of range; the timeline has events 1..{s.Timeline.Count}");
            EnsureMemory(s, [name], false, parse.GetValue(maxMemory));
            ScenarioResult result = Execute(s, [name], stderr, new RunOptions { ExplainIpa = ipaValue, ExplainEvent = eventNumber, CaptureDecisions = false });
            PolicyRun run = result.Runs[0];
            string text = run.Explained is { } e ? $"({DecisionTables.PickNote(e)})\n{DecisionText.Render(e.Record)}" : "nothing to explain\n";
            if (parse.GetValue(output.Format) == "table" && parse.GetValue(output.Out) is null)
            {
                stdout.Write(text);
                if (parse.GetValue(output.Report) is { } report)
                    AtomicFile.Write(report, HtmlReport.Render(result));
            }
            else
            {
                output.Emit(parse, result, [], text, stdout);
            }
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static int ExplainScriptLine(string path, int? line, string? policy, TextWriter stdout)
    {
        if (line is null)
            throw new UsageException("explain of an .s2faults script needs --line N (the line of an access)");
        Kvm.DecisionRecord? record = null;
        using ScriptSource source = ScriptSource.OpenFile(path);
        S2FaultsScript.Run(source, TextWriter.Null, stats: false, explainLine: n => n == line ? record = new Kvm.DecisionRecord() : null, policyOverride: policy);
        if (record is null)
            throw new UsageException($"{path}:{line}: not an access line; --line must name an 'access' event");
        stdout.Write(DecisionText.Render(record));
        return ExitCodes.Ok;
    }

    private static ScenarioResult Execute(Scenario s, IReadOnlyList<string> policies, TextWriter stderr, RunOptions options)
    {
        var bar = new ProgressBar(stderr);
        var result = new ScenarioResult { Scenario = s.Name, File = s.SourceFile, Description = s.Description };
        foreach (string policy in policies)
        {
            bar.Label = policy;
            InternalError.Activity = $"running {s.SourceFile} under {policy}";
            var withProgress = new RunOptions
            {
                ExplainIpa = options.ExplainIpa,
                ExplainEvent = options.ExplainEvent,
                CaptureDecisions = options.CaptureDecisions,
                Check = options.Check,
                Progress = (done, total) => bar.Report((ulong)done, (ulong)total),
            };
            result.Runs.Add(ScenarioRunner.Run(s, policy, withProgress));
        }
        bar.Done();
        return result;
    }

    /// <summary>--check: run the invariant checker too; a violation makes the run fail (exit code 1).</summary>
    private static Option<bool> CheckOption() => new("--check")
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

    internal static Scenario Load(string path)
    {
        InternalError.Activity = $"reading {path}";
        return ScenarioReader.Load(path);
    }

    private static int Outcome(ScenarioResult result) =>
        result.Runs.Any(r => r.Violations.Count > 0) ? ExitCodes.Failed : ExitCodes.Ok;

    /// <summary>Without --policy: the newest kernel the scenario lists, else the newest kernel (never a proposal or a buggy variant).</summary>
    private static string DefaultPolicy(Scenario s) =>
        s.Vm.Policies.Where(p => PolicyRegistry.Find(p)?.Kind == PolicyKind.Kernel).OrderBy(PolicyRegistry.OrderOf).LastOrDefault()
        ?? PolicyRegistry.NewestKernel.Name;

    /// <summary>
    /// Runs a command body, turning input errors into messages and exit code 2, and anything unexpected into an
    /// internal-error message and <see cref="ExitCodes.InternalError"/>.
    /// </summary>
    internal static int Guard(TextWriter stderr, Func<int> body)
    {
        InternalError.Activity = "running the command";
        try
        {
            return body();
        }
        catch (ScenarioException ex)
        {
            foreach (ScenarioError error in ex.Errors)
                stderr.WriteLine(error.ToString());
            stderr.WriteLine(ex.Errors.Count == 1 ? "1 error; nothing was run or written." : $"{ex.Errors.Count} errors; nothing was run or written.");
            return ExitCodes.BadInput;
        }
        catch (ScriptException ex)
        {
            stderr.WriteLine(ex.Message);
            return ExitCodes.BadInput;
        }
        catch (UsageException ex)
        {
            stderr.WriteLine("s2lab: " + ex.Message);
            return ExitCodes.BadInput;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine("s2lab: " + ex.Message);
            return ExitCodes.BadInput;
        }
        catch (Exception ex)
        {
            // Anything else is a bug: a short message and its own exit code, never 1 ("a violation was found").
            return InternalError.Report(stderr, ex);
        }
    }
}

/// <summary>A command-line mistake: a message and exit code 2.</summary>
internal sealed class UsageException : Exception
{
    public UsageException(string message)
        : base(message)
    {
    }
}
