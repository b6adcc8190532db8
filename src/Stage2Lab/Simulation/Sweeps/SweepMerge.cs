using Stage2Lab.Simulation.Campaigns;

namespace Stage2Lab.Simulation.Sweeps;

/// <summary>Combines the shards of one sweep into the result a single run gives, refusing anything else.</summary>
public static class SweepMerge
{
    public static SweepResult Merge(IReadOnlyList<(string Name, SweepResult Part)> parts)
    {
        if (parts.Count == 0)
            throw new CampaignException("merge needs the shard files of a campaign");
        var (firstName, first) = parts[0];
        foreach (var (name, part) in parts.Skip(1))
        {
            string? why = part.ScenarioSha256 != first.ScenarioSha256 ? "another scenario text"
                : part.Scenario != first.Scenario || part.File != first.File ? "another scenario"
                : !part.Axes.Select(Describe).SequenceEqual(first.Axes.Select(Describe)) ? "other --vary keys or values"
                : !part.Policies.SequenceEqual(first.Policies) ? "other policies"
                : part.Shard.Count != first.Shard.Count ? $"{part.Shard.Count} shards where {firstName} has {first.Shard.Count}"
                : null;
            if (why is not null)
                throw new CampaignException($"{name} is not a shard of the same sweep as {firstName}: {why}; merge only the shards of one campaign");
        }
        SweepResult[] ordered = Campaign.InShardOrder(parts.Select(p => (p.Name, p.Part.Shard)).ToList(), first.Shard.Count)
            .Select(i => parts[i].Part).ToArray();
        var rows = new List<SweepRow>();
        foreach (SweepResult part in ordered)
        {
            var (begin, end) = part.Shard.Range(part.Points);
            if (part.Rows.Count != (end - begin) * part.Policies.Count || part.Rows.Select(r => r.Point).Distinct().Count() != end - begin
                || part.Rows.Any(r => r.Point < begin || r.Point >= end))
            {
                throw new CampaignException($"shard {part.Shard} has {part.Rows.Count} rows, not the {(end - begin) * part.Policies.Count} of points {begin}..{end - 1} under {part.Policies.Count} policies; was it cut short? Run it again");
            }
            rows.AddRange(part.Rows);
        }
        return first with { Shard = Shard.Whole, Rows = rows };
    }

    private static string Describe(SweepAxis axis) => axis.Key + "=" + string.Join(",", axis.Values);
}
