using System.CommandLine;
using System.Globalization;
using Stage2Lab.Kvm.Policies;
using Stage2Lab.Reports;
using Stage2Lab.Simulation.Fuzzing;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Cli;

/// <summary>`s2lab fuzz`: random hosts, VMAs, memslots and timelines, invariants checked after every event.</summary>
internal static class FuzzCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var policy = PolicyOptions.SingleWithDefault("The policy to fuzz.", PolicyRegistry.NewestKernel.Name);
        var seed = new Option<ulong>("--seed") { Description = "Campaign seed: the same seed gives the same cases and the same result.", DefaultValueFactory = _ => 1 };
        var events = new Option<long>("--events") { Description = "Stop after this many events (0: no limit).", DefaultValueFactory = _ => 200_000 };
        var seconds = new Option<double>("--seconds") { Description = "Stop after this many seconds (0: no limit)." };
        var layout = new Option<string>("--layout") { Description = "ordinary (a careful VMM's layouts) or any (every feature, including the known kernel breakers).", DefaultValueFactory = _ => "any" };
        layout.AcceptOnlyFromAmong("ordinary", "any");
        var only = new Option<string?>("--invariant") { Description = $"Look for this invariant only (others are ignored): {string.Join(", ", Enum.GetNames<Stage2Lab.Simulation.Invariants.InvariantKind>())}." };
        var pkvm = new Option<bool>("--pkvm") { Description = "Fuzz non-protected guests under protected KVM (pkvm; v6.18 and v7.4 only)." };
        var output = new Option<string?>("--out") { Description = "Where to write the shrunk reproducer (a scenario file); default fuzz-POLICY-seed-SEED.yaml." };
        OutputOptions.NotEmpty(output);
        var command = new Command("fuzz", "Generate random layouts and event timelines, check every invariant after every event, and shrink the first violation to a scenario that `s2lab check` reproduces. " + ExitCodes.HelpText)
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
        command.SetAction(parse => ScenarioCommands.Guard(stderr, () =>
        {
            string name = parse.GetValue(policy)!;
            var flavor = parse.GetValue(pkvm) ? Stage2Lab.Kvm.VmFlavor.Pkvm : Stage2Lab.Kvm.VmFlavor.Kvm;
            if (!PolicyRegistry.Create(name).Supports(flavor))
                throw new UsageException($"--pkvm needs a policy that models protected KVM ({string.Join(", ", PolicyRegistry.All.Where(d => d.Create().Supports(flavor)).Select(d => d.Name))}); {name} does not");
            long maxEvents = parse.GetValue(events);
            double maxSeconds = parse.GetValue(seconds);
            if (maxEvents < 0 || maxSeconds < 0 || !double.IsFinite(maxSeconds))
                throw new UsageException("--events and --seconds must be finite and not negative");
            if (maxEvents == 0 && maxSeconds == 0)
                throw new UsageException("give --events or --seconds (or both): a campaign needs an end");
            Stage2Lab.Simulation.Invariants.InvariantKind? onlyKind = null;
            if (parse.GetValue(only) is { } kindText)
            {
                if (!Enum.TryParse(kindText, ignoreCase: true, out Stage2Lab.Simulation.Invariants.InvariantKind kind))
                    throw new UsageException($"unknown invariant '{kindText}'; expected one of {string.Join(", ", Enum.GetNames<Stage2Lab.Simulation.Invariants.InvariantKind>())}");
                onlyKind = kind;
            }
            var bar = new ProgressBar(stderr) { Label = "fuzz " + name };
            var options = new FuzzOptions
            {
                Policy = name,
                Flavor = flavor,
                Seed = parse.GetValue(seed),
                MaxEvents = maxEvents,
                Seconds = maxSeconds,
                Layout = parse.GetValue(layout) == "ordinary" ? FuzzLayout.Ordinary : FuzzLayout.Any,
                OnlyKind = onlyKind,
                Progress = (done, total) => bar.Report((ulong)done, (ulong)(total > 0 ? total : done + 1)),
            };
            FuzzReport report = Fuzzer.Run(options);
            bar.Done();
            string pkvmText = flavor == Stage2Lab.Kvm.VmFlavor.Pkvm ? " --pkvm" : "";
            string summary = $"fuzz {name}{(pkvmText.Length > 0 ? " pkvm" : "")} seed {report.Seed} layout {report.Layout.ToString().ToLowerInvariant()}: {Format.Count(report.Cases)} cases, {Format.Count(report.Events)} events in {report.Elapsed.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture)} s ({Format.Count((long)report.EventsPerSecond)} events/s)";
            if (report.Finding is not { } finding)
            {
                stdout.WriteLine(summary + ", no invariant violation");
                return ExitCodes.Ok;
            }
            string path = parse.GetValue(output) ?? $"fuzz-{name}-seed-{report.Seed}.yaml";
            var comments = new[]
            {
                $"Reproducer found by: s2lab fuzz --policy {name}{pkvmText} --seed {report.Seed} --layout {report.Layout.ToString().ToLowerInvariant()}{(onlyKind is { } k ? $" --invariant {k}" : "")}",
                $"Violation: {finding.Violation}",
                $"Found after {finding.EventsToFind} events ({finding.TimeToFind.TotalSeconds:0.00} s, case {finding.CaseIndex}); shrunk from {finding.EventsBeforeShrinking} to {finding.EventsAfterShrinking} events in {finding.ShrinkTime.TotalSeconds:0.0} s.",
                $"Reproduce: s2lab check {Path.GetFileName(path)}",
            };
            AtomicFile.Write(path, ScenarioWriter.Write(finding.Reproducer, comments));
            stdout.WriteLine(summary);
            stdout.WriteLine($"violation: {finding.Violation}");
            stdout.WriteLine($"found after {Format.Count(finding.EventsToFind)} events ({finding.TimeToFind.TotalSeconds:0.00} s); shrunk from {finding.EventsBeforeShrinking} to {finding.EventsAfterShrinking} events in {finding.ShrinkTime.TotalSeconds:0.0} s");
            stdout.WriteLine($"reproducer written to {path}; run `s2lab check {path}` to see it again");
            return ExitCodes.Failed;
        }));
        return command;
    }
}
