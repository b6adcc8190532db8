using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Campaigns;
using Stage2Lab.Simulation.Invariants;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Fuzzing;

/// <summary>The violation a campaign (or one shard of it) found, as its documents keep it.</summary>
/// <param name="Case">The violating case's index in the whole campaign.</param>
/// <param name="EventsToFind">Events checked from the part's first case up to the violation.</param>
public sealed record FuzzPartFinding(long Case, long EventsToFind, string Invariant, string Violation, int EventsBeforeShrinking, int EventsAfterShrinking, string Reproducer);

/// <summary>
/// What a fuzz campaign, or one shard of it, found: the campaign's parameters, the cases and events from the
/// part's first case, and the finding. Nothing in it depends on the machine or the number of jobs (except the
/// extent of a --seconds campaign, which says so in <see cref="TimeLimited"/>). <see cref="Merge"/> combines the
/// shards of one campaign into the whole campaign's part.
/// </summary>
public sealed record FuzzPart(
    string Policy,
    bool Pkvm,
    ulong Seed,
    FuzzLayout Layout,
    string? Invariant,
    long? CaseBudget,
    long EventBudget,
    bool TimeLimited,
    Shard Shard,
    long FirstCase,
    long Cases,
    long Events,
    FuzzPartFinding? Finding)
{
    /// <summary>The comments a reproducer starts with: how it was found, the same whichever shard or job count found it.</summary>
    public static IReadOnlyList<string> ReproducerComments(FuzzOptions options, FuzzFinding finding) =>
    [
        $"Reproducer found by: s2lab fuzz --policy {options.Policy}{(options.Flavor == VmFlavor.Pkvm ? " --pkvm" : "")} --seed {options.Seed} --layout {options.Layout.ToString().ToLowerInvariant()}{(options.OnlyKind is { } k ? $" --invariant {k}" : "")}",
        $"Violation: {finding.Violation}",
        $"Found in case {finding.CaseIndex}; shrunk from {finding.EventsBeforeShrinking} to {finding.EventsAfterShrinking} events.",
    ];

    public static FuzzPart From(FuzzReport report, FuzzOptions options) => new(
        options.Policy,
        options.Flavor == VmFlavor.Pkvm,
        options.Seed,
        options.Layout,
        options.OnlyKind?.ToString(),
        options.MaxCases > 0 ? options.MaxCases : null,
        options.MaxEvents,
        options.Seconds > 0,
        options.Shard,
        report.FirstCase,
        report.Cases,
        report.Events,
        report.Finding is { } f
            ? new FuzzPartFinding(f.CaseIndex, f.EventsToFind, f.Violation.Kind.ToString(), f.Violation.ToString(), f.EventsBeforeShrinking, f.EventsAfterShrinking,
                ScenarioWriter.Write(f.Reproducer, ReproducerComments(options, f)))
            : null);

    /// <summary>
    /// The shards of one campaign as the whole campaign: the cases and events of every shard before the first
    /// that found a violation, then that shard's up to its violation (the lowest-index violating case of all, as
    /// one thread would meet it first).
    /// </summary>
    public static FuzzPart Merge(IReadOnlyList<(string Name, FuzzPart Part)> parts)
    {
        if (parts.Count == 0)
            throw new CampaignException("merge needs the shard files of a campaign");
        var (firstName, first) = parts[0];
        foreach (var (name, part) in parts.Skip(1))
        {
            if (part with { Shard = first.Shard, FirstCase = 0, Cases = 0, Events = 0, Finding = null } != first with { FirstCase = 0, Cases = 0, Events = 0, Finding = null })
                throw new CampaignException($"{name} is not a shard of the same fuzz campaign as {firstName} (policy, seed, layout, invariant or budget differ); merge only the shards of one campaign");
        }
        int[] order = Campaign.InShardOrder(parts.Select(p => (p.Name, p.Part.Shard)).ToList(), first.Shard.Count);
        long cases = 0, events = 0;
        foreach (int i in order)
        {
            FuzzPart part = parts[i].Part;
            var (begin, end) = part.Shard.Range(part.CaseBudget ?? 0);
            if (part.FirstCase != begin || (part.Finding is null && part.Cases != end - begin))
                throw new CampaignException($"{parts[i].Name} (shard {part.Shard}) ran {part.Cases} cases from case {part.FirstCase}, not cases {begin}..{end - 1}; was it cut short? Run it again");
            if (part.Finding is { } f)
                return part with { Shard = Shard.Whole, FirstCase = 0, Cases = cases + part.Cases, Events = events + part.Events, Finding = f with { EventsToFind = events + f.EventsToFind } };
            cases += part.Cases;
            events += part.Events;
        }
        return first with { Shard = Shard.Whole, FirstCase = 0, Cases = cases, Events = events, Finding = null };
    }
}
