using System.CommandLine;
using System.Globalization;
using Stage2Lab.Kvm.Policies;
using Stage2Lab.Reports;
using Stage2Lab.Simulation.Fuzzing;
using Stage2Lab.Simulation.Invariants;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Cli;

/// <summary>`s2lab fuzz`: random hosts, VMAs, memslots and timelines, invariants checked after every event.</summary>
internal static class FuzzCommand
{
    /// <summary>The event budget when neither --events nor --seconds is given.</summary>
    public const long DefaultEvents = 200_000;

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var policy = PolicyOptions.SingleWithDefault("The policy to fuzz.", PolicyRegistry.NewestKernel.Name);
        var seed = NumberOptions.Required<ulong>("--seed", "Campaign seed: the same seed gives the same cases and the same result.", 1);
        var events = NumberOptions.Optional<long>("--events", $"Stop after this many events (0: no limit). Default: {DefaultEvents:N0}, or no limit when only --seconds is given.");
        var seconds = NumberOptions.Optional<double>("--seconds", "Stop after this many seconds (0: no limit). Given alone, it is the only limit.");
        var layout = new Option<string>("--layout") { Description = "ordinary (a careful VMM's layouts) or any (every feature, including the known kernel breakers).", DefaultValueFactory = _ => "any" };
        layout.AcceptOnlyFromAmong("ordinary", "any");
        var only = new Option<string?>("--invariant") { Description = "Look for this invariant only (others are ignored): " + string.Join(", ", Enum.GetNames<InvariantKind>()) + ".", HelpName = "INVARIANT" };
        only.AcceptOnlyFromAmong(Enum.GetNames<InvariantKind>());
        var pkvm = new Option<bool>("--pkvm") { Description = "Fuzz non-protected guests under protected KVM (pkvm; v6.18 and v7.4 only)." };
        var output = new Option<string?>("--out") { Description = "Where to write the shrunk reproducer (a scenario file); default fuzz-POLICY[-pkvm]-seed-SEED[-layout-ordinary][-INVARIANT].yaml, a name no other campaign shares." };
        OutputOptions.NotEmpty(output);
        var command = new Command("fuzz", "Generate random layouts and event timelines, check every invariant after every event, and shrink the first violation to a scenario that `s2lab check` reproduces (exit 1).")
        {
            policy,
            seed,
            events,
            seconds,
            layout,
            only,
            pkvm,
            output,
        };
        command.SetAction(parse => CommandGuard.Run(stderr, () =>
        {
            string name = parse.GetValue(policy)!;
            var flavor = parse.GetValue(pkvm) ? Stage2Lab.Kvm.VmFlavor.Pkvm : Stage2Lab.Kvm.VmFlavor.Kvm;
            if (!PolicyRegistry.Create(name).Supports(flavor))
                throw new UsageException($"--pkvm needs a policy that models protected KVM ({string.Join(", ", PolicyRegistry.All.Where(d => d.Create().Supports(flavor)).Select(d => d.Name))}); {name} does not");
            var (maxEvents, maxSeconds) = Limits(parse.GetValue(events), parse.GetValue(seconds));
            InvariantKind? onlyKind = parse.GetValue(only) is { } kindText ? Enum.Parse<InvariantKind>(kindText) : null;
            var fuzzLayout = parse.GetValue(layout) == "ordinary" ? FuzzLayout.Ordinary : FuzzLayout.Any;
            ulong seedValue = parse.GetValue(seed);
            string path = parse.GetValue(output) ?? ReproducerName(name, flavor, seedValue, fuzzLayout, onlyKind);
            // Before the campaign: a reproducer that cannot be written would lose what was found.
            AtomicFile.EnsureWritable(path, "--out");

            FuzzReport report = ProgressDisplay.Run(stderr, progress =>
            {
                ProgressDisplay.Line line = progress.Add($"fuzz {name}");
                line.Start();
                line.Limit(maxEvents, maxSeconds);
                var options = new FuzzOptions
                {
                    Policy = name,
                    Flavor = flavor,
                    Seed = seedValue,
                    MaxEvents = maxEvents,
                    Seconds = maxSeconds,
                    Layout = fuzzLayout,
                    OnlyKind = onlyKind,
                    Progress = (done, _) => line.ReportEvents(done),
                };
                FuzzReport r = Fuzzer.Run(options);
                line.Done();
                return r;
            });
            string pkvmText = flavor == Stage2Lab.Kvm.VmFlavor.Pkvm ? " --pkvm" : "";
            string summary = $"fuzz {name}{(pkvmText.Length > 0 ? " pkvm" : "")} seed {report.Seed} layout {report.Layout.ToString().ToLowerInvariant()}: {Format.Count(report.Cases)} cases, {Format.Count(report.Events)} events in {report.Elapsed.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture)} s ({Format.Count((long)report.EventsPerSecond)} events/s)";
            if (report.Finding is not { } finding)
            {
                stdout.WriteLine(summary + ", no invariant violation");
                return ExitCodes.Ok;
            }
            var comments = new[]
            {
                $"Reproducer found by: s2lab fuzz --policy {name}{pkvmText} --seed {report.Seed} --layout {report.Layout.ToString().ToLowerInvariant()}{(onlyKind is { } k ? $" --invariant {k}" : "")}",
                $"Violation: {finding.Violation}",
                $"Found after {finding.EventsToFind} events ({finding.TimeToFind.TotalSeconds:0.00} s, case {finding.CaseIndex}); shrunk from {finding.EventsBeforeShrinking} to {finding.EventsAfterShrinking} events in {finding.ShrinkTime.TotalSeconds:0.0} s.",
                $"Reproduce: s2lab check {Path.GetFileName(path)}",
            };
            string yaml = ScenarioWriter.Write(finding.Reproducer, comments);
            stdout.WriteLine(summary);
            stdout.WriteLine($"violation: {finding.Violation}");
            stdout.WriteLine($"found after {Format.Count(finding.EventsToFind)} events ({finding.TimeToFind.TotalSeconds:0.00} s); shrunk from {finding.EventsBeforeShrinking} to {finding.EventsAfterShrinking} events in {finding.ShrinkTime.TotalSeconds:0.0} s");
            if (!OutputOptions.TryWrite(path, yaml, stderr, "the reproducer follows on standard output"))
            {
                stdout.Write(yaml);
                return ExitCodes.Worse(ExitCodes.Failed, ExitCodes.BadInput);
            }
            stdout.WriteLine($"reproducer written to {path}; run `s2lab check {path}` to see it again");
            return ExitCodes.Failed;
        }));
        return command;
    }

    /// <summary>
    /// The campaign's limits: --events and --seconds as given; --seconds alone is the only limit (no event
    /// budget); neither gives <see cref="DefaultEvents"/> events.
    /// </summary>
    internal static (long MaxEvents, double MaxSeconds) Limits(long? events, double? seconds)
    {
        long maxEvents = events ?? (seconds is null ? DefaultEvents : 0);
        double maxSeconds = seconds ?? 0;
        if (maxEvents < 0 || maxSeconds < 0 || !double.IsFinite(maxSeconds))
            throw new UsageException("--events and --seconds must be finite and not negative");
        if (maxEvents == 0 && maxSeconds == 0)
            throw new UsageException("give --events or --seconds (or both) above 0: a campaign needs an end");
        return (maxEvents, maxSeconds);
    }

    /// <summary>The default reproducer name: every option that changes what a campaign finds is in it.</summary>
    internal static string ReproducerName(string policy, Stage2Lab.Kvm.VmFlavor flavor, ulong seed, FuzzLayout layout, InvariantKind? only) =>
        $"fuzz-{policy}{(flavor == Stage2Lab.Kvm.VmFlavor.Pkvm ? "-pkvm" : "")}-seed-{seed}{(layout == FuzzLayout.Ordinary ? "-layout-ordinary" : "")}{(only is { } k ? "-" + k : "")}.yaml";
}
