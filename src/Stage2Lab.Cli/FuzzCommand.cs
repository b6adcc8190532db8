using System.CommandLine;
using System.Globalization;
using Stage2Lab.Kvm.Policies;
using Stage2Lab.Reports;
using Stage2Lab.Simulation.Campaigns;
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
        var output = new Option<string?>("--out") { Description = "Where to write the shrunk reproducer (a scenario file); default fuzz-POLICY[-pkvm]-seed-SEED[-layout-ordinary][-INVARIANT].yaml, a name no other campaign shares. A --shard writes none unless given (its JSON holds it)." };
        OutputOptions.NotEmpty(output);
        var cases = NumberOptions.Optional<long>("--cases", "Stop after this many cases (0: no limit). Given alone, it is the only limit: a campaign of a fixed set of cases, which --shard can split.");
        var jobs = CampaignOptions.Jobs();
        var shard = CampaignOptions.ShardOption("campaign's cases (needs --cases N and no --events or --seconds)");
        var format = new Option<string>("--format") { Description = "text (the default: a summary with timings) or json (schema " + FuzzJson.Schema + ": the campaign and its finding, no timings, so the same for any --jobs; timings go to standard error). With --shard: json.", DefaultValueFactory = _ => "text" };
        format.AcceptOnlyFromAmong("text", "json");
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
            cases,
            jobs,
            shard,
            format,
        };
        command.SetAction(parse => CommandGuard.Run(stderr, () =>
        {
            string name = parse.GetValue(policy)!;
            var flavor = parse.GetValue(pkvm) ? Stage2Lab.Kvm.VmFlavor.Pkvm : Stage2Lab.Kvm.VmFlavor.Kvm;
            if (!PolicyRegistry.Create(name).Supports(flavor))
                throw new UsageException($"--pkvm needs a policy that models protected KVM ({string.Join(", ", PolicyRegistry.All.Where(d => d.Create().Supports(flavor)).Select(d => d.Name))}); {name} does not");
            var (maxEvents, maxSeconds, maxCases) = Limits(parse.GetValue(events), parse.GetValue(seconds), parse.GetValue(cases));
            var part = CampaignOptions.ShardOf(parse, shard);
            bool json = parse.GetValue(format) == "json";
            if (!part.IsWhole)
            {
                if (OutputOptions.Given(parse, format) && !json)
                    throw new UsageException("--shard writes JSON (what `s2lab merge` reads); drop --format text");
                json = true;
                if (maxCases == 0 || maxEvents > 0 || maxSeconds > 0)
                    throw new UsageException("--shard needs a campaign of a fixed number of cases: give --cases N, and no --events or --seconds (each part's share of the cases must be known before any runs; see docs/scale-out.md)");
            }
            InvariantKind? onlyKind = parse.GetValue(only) is { } kindText ? Enum.Parse<InvariantKind>(kindText) : null;
            var fuzzLayout = parse.GetValue(layout) == "ordinary" ? FuzzLayout.Ordinary : FuzzLayout.Any;
            ulong seedValue = parse.GetValue(seed);
            string? path = parse.GetValue(output) ?? (part.IsWhole ? ReproducerName(name, flavor, seedValue, fuzzLayout, onlyKind) : null);
            // Before the campaign: a reproducer that cannot be written would lose what was found.
            if (path is not null)
                AtomicFile.EnsureWritable(path, "--out");

            FuzzOptions? ran = null;
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
                    MaxCases = maxCases,
                    Shard = part,
                    Jobs = parse.GetValue(jobs),
                };
                ran = options;
                FuzzReport r = Fuzzer.Run(options);
                line.Done();
                return r;
            });
            string timing = $"{report.Elapsed.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture)} s ({Format.Count((long)report.EventsPerSecond)} events/s)";
            FuzzPart found = FuzzPart.From(report, ran!);
            if (json)
            {
                stdout.Write(FuzzJson.Render(found));
                stderr.WriteLine($"fuzz {name}: {Format.Count(report.Cases)} cases, {Format.Count(report.Events)} events in {timing}");
            }
            if (report.Finding is not { } finding)
            {
                if (!json)
                    stdout.WriteLine($"{Headline(found)}, {Format.Count(report.Events)} events in {timing}, no invariant violation");
                return ExitCodes.Ok;
            }
            if (!json)
            {
                stdout.WriteLine($"{Headline(found)}, {Format.Count(report.Events)} events in {timing}");
                stdout.WriteLine($"violation: {finding.Violation}");
                stdout.WriteLine($"found after {Format.Count(finding.EventsToFind)} events ({finding.TimeToFind.TotalSeconds:0.00} s); shrunk from {finding.EventsBeforeShrinking} to {finding.EventsAfterShrinking} events in {finding.ShrinkTime.TotalSeconds:0.0} s");
            }
            if (path is null)
                return ExitCodes.Failed;
            string yaml = ScenarioWriter.Write(finding.Reproducer, [.. FuzzPart.ReproducerComments(ran!, finding), $"Reproduce: s2lab check {Path.GetFileName(path)}"]);
            if (!OutputOptions.TryWrite(path, yaml, stderr, "the reproducer follows on standard output"))
            {
                if (!json)
                    stdout.Write(yaml);
                return ExitCodes.Worse(ExitCodes.Failed, ExitCodes.BadInput);
            }
            (json ? stderr : stdout).WriteLine($"reproducer written to {path}; run `s2lab check {path}` to see it again");
            return ExitCodes.Failed;
        }));
        return command;
    }

    private static string Headline(FuzzPart part) =>
        $"fuzz {part.Policy}{(part.Pkvm ? " pkvm" : "")} seed {part.Seed} layout {part.Layout.ToString().ToLowerInvariant()}: {Format.Count(part.Cases)} cases";

    /// <summary>A campaign's summary without timings (what `merge --format table` prints for fuzz shards).</summary>
    internal static string Summary(FuzzPart part)
    {
        string head = $"{Headline(part)}, {Format.Count(part.Events)} events";
        if (part.Finding is not { } f)
            return head + ", no invariant violation\n";
        return $"{head}\nviolation: {f.Violation}\nfound in case {Format.Count(f.Case)} after {Format.Count(f.EventsToFind)} events; shrunk from {f.EventsBeforeShrinking} to {f.EventsAfterShrinking} events\n";
    }

    /// <summary>
    /// The campaign's limits: --events and --seconds as given; --seconds alone is the only limit (no event
    /// budget); neither gives <see cref="DefaultEvents"/> events.
    /// </summary>
    internal static (long MaxEvents, double MaxSeconds, long MaxCases) Limits(long? events, double? seconds, long? cases = null)
    {
        long maxEvents = events ?? (seconds is null && cases is null ? DefaultEvents : 0);
        double maxSeconds = seconds ?? 0;
        long maxCases = cases ?? 0;
        if (maxEvents < 0 || maxSeconds < 0 || !double.IsFinite(maxSeconds) || maxCases < 0)
            throw new UsageException("--events and --cases must not be negative, and --seconds must be finite and not negative");
        if (maxEvents == 0 && maxSeconds == 0 && maxCases == 0)
            throw new UsageException("give --events, --seconds or --cases (or several) above 0: a campaign needs an end");
        return (maxEvents, maxSeconds, maxCases);
    }

    /// <summary>The default reproducer name: every option that changes what a campaign finds is in it.</summary>
    internal static string ReproducerName(string policy, Stage2Lab.Kvm.VmFlavor flavor, ulong seed, FuzzLayout layout, InvariantKind? only) =>
        $"fuzz-{policy}{(flavor == Stage2Lab.Kvm.VmFlavor.Pkvm ? "-pkvm" : "")}-seed-{seed}{(layout == FuzzLayout.Ordinary ? "-layout-ordinary" : "")}{(only is { } k ? "-" + k : "")}.yaml";
}
