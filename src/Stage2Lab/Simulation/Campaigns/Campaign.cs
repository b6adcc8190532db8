namespace Stage2Lab.Simulation.Campaigns;

/// <summary>What merging sweeps and fuzz campaigns share: every shard once, none missing.</summary>
public static class Campaign
{
    /// <summary>
    /// The indices of <paramref name="parts"/> in shard order, when they are exactly shards 1..<paramref name="count"/>;
    /// else a <see cref="CampaignException"/> naming the missing or repeated shards.
    /// </summary>
    public static int[] InShardOrder(IReadOnlyList<(string Name, Shard Shard)> parts, int count)
    {
        var byIndex = new int[count];
        Array.Fill(byIndex, -1);
        for (int i = 0; i < parts.Count; i++)
        {
            var (name, shard) = parts[i];
            if (shard.Count != count)
                throw new CampaignException($"{name} is shard {shard}, of another split than {count} parts; merge the shards of one campaign");
            int at = shard.Index - 1;
            if (byIndex[at] >= 0)
                throw new CampaignException($"shard {shard} is given twice ({parts[byIndex[at]].Name} and {name}); give each shard once");
            byIndex[at] = i;
        }
        var missing = Enumerable.Range(0, count).Where(i => byIndex[i] < 0).Select(i => (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        if (missing.Count > 0)
            throw new CampaignException($"shard{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing.Take(20))}{(missing.Count > 20 ? ", ..." : "")} of {count} missing; a merge needs every shard (did a job fail?)");
        return byIndex;
    }
}
