using System.Globalization;
using System.Text;
using System.Text.Json;
using Stage2Lab.Arch;
using Stage2Lab.Simulation.Campaigns;
using Stage2Lab.Simulation.Sweeps;

namespace Stage2Lab.Reports;

/// <summary>A sweep's rows as a table, CSV or JSON (stage2lab.sweep/1), and a JSON document read back for merge.</summary>
public static class SweepReport
{
    public const string Schema = "stage2lab.sweep/1";

    public static string Json(SweepResult result) => JsonReport.Serialize(new SweepDocument
    {
        Schema = Schema,
        ToolVersion = JsonReport.ToolVersion,
        Command = "sweep",
        Scenario = result.Scenario,
        File = result.File,
        ScenarioSha256 = result.ScenarioSha256,
        Shard = ShardJson.Of(result.Shard),
        Points = result.Points,
        Axes = [.. result.Axes.Select(a => new SweepAxisJson { Key = a.Key, Notation = Name(a.Notation), Values = a.Values })],
        Policies = result.Policies,
        Metrics = [.. SweepMetrics.All.Select(m => new SweepMetricJson { Name = m.Name, Unit = Name(m.Unit), Description = m.Description })],
        Rows = [.. result.Rows.Select(r => new SweepRowJson { Point = r.Point, Values = r.Values, Policy = r.Policy, Granule = r.Granule, Metrics = r.Metrics })],
    });

    /// <summary>A sweep document written by <see cref="Json"/> (a shard, for merge); anything else is refused.</summary>
    public static SweepResult Read(string json, string name)
    {
        SweepDocument? doc;
        try
        {
            doc = JsonSerializer.Deserialize<SweepDocument>(json, DecisionJson.Options);
        }
        catch (JsonException ex)
        {
            throw new CampaignException($"{name}: not a sweep document ({ex.Message}); merge reads what `s2lab sweep --shard I/N --format json` wrote");
        }
        if (doc is null || doc.Schema != Schema)
            throw new CampaignException($"{name}: not a {Schema} document (schema {doc?.Schema ?? "missing"})");
        if (doc.ToolVersion != JsonReport.ToolVersion)
            throw new CampaignException($"{name} was written by s2lab {doc.ToolVersion}, this is {JsonReport.ToolVersion}; merge with the version that ran the shards, or run them again");
        if (!doc.Metrics.Select(m => m.Name).SequenceEqual(SweepMetrics.All.Select(m => m.Name)))
            throw new CampaignException($"{name}: its metrics are not this s2lab's; run the shards again");
        var axes = doc.Axes.Select(a => new SweepAxis(a.Key, a.Values, Enum.TryParse(a.Notation, ignoreCase: true, out AxisNotation n) ? n : AxisNotation.Text)).ToList();
        var rows = new List<SweepRow>(doc.Rows.Count);
        foreach (SweepRowJson r in doc.Rows)
        {
            if (r.Values.Count != axes.Count || r.Metrics.Count != SweepMetrics.All.Count)
                throw new CampaignException($"{name}: row of point {r.Point} has {r.Values.Count} values and {r.Metrics.Count} metrics; the document is damaged");
            rows.Add(new SweepRow(r.Point, r.Values, r.Policy, r.Granule, r.Metrics));
        }
        Shard shard = doc.Shard is { } s ? Shard.Parse($"{s.Index}/{s.Count}") : Shard.Whole;
        return new SweepResult(doc.Scenario, doc.File, doc.ScenarioSha256, axes, doc.Policies, doc.Points, shard, rows);
    }

    /// <summary>Every metric of every row: point, the varied keys, policy, granule, then the metrics by name.</summary>
    public static string Csv(SweepResult result)
    {
        var csv = new StringBuilder();
        csv.AppendJoin(',', new[] { "point" }.Concat(result.Axes.Select(a => a.Key)).Concat(["policy", "granule"]).Concat(SweepMetrics.All.Select(m => m.Name)).Select(Quote));
        csv.Append('\n');
        foreach (SweepRow row in result.Rows)
        {
            csv.Append(row.Point.ToString(CultureInfo.InvariantCulture));
            foreach (string v in row.Values)
                csv.Append(',').Append(Quote(v));
            csv.Append(',').Append(Quote(row.Policy)).Append(',').Append(Quote(row.Granule));
            foreach (long m in row.Metrics)
                csv.Append(',').Append(m.ToString(CultureInfo.InvariantCulture));
            csv.Append('\n');
        }
        return csv.ToString();
    }

    /// <summary>The readable table: the varied values, the policy, and the numbers `compare` leads with.</summary>
    public static ReportTable Table(SweepResult result)
    {
        string[] columns = [.. result.Axes.Select(a => a.Key), "policy", "faults", "live leaves at the end", "page tables", "TLBIs", "est. time"];
        string shard = result.Shard.IsWhole ? "" : $", shard {result.Shard}";
        var table = new ReportTable($"{result.Scenario}: sweep of {string.Join(" × ", result.Axes.Select(a => $"{a.Key} ({a.Values.Count})"))} under {result.Policies.Count} {(result.Policies.Count == 1 ? "policy" : "policies")}{shard}", columns);
        int faults = SweepMetrics.IndexOf("faults"), leaves = SweepMetrics.IndexOf("leaves-l0"), tables = SweepMetrics.IndexOf("table-bytes");
        int tlbis = SweepMetrics.IndexOf("tlbis"), time = SweepMetrics.IndexOf("estimated-ns");
        long lastPoint = -1;
        foreach (SweepRow row in result.Rows)
        {
            if (row.Point != lastPoint && result.Policies.Count > 1 && lastPoint >= 0)
                table.Section();
            lastPoint = row.Point;
            table.Add([.. row.Values, row.Policy, Format.Count(row.Metrics[faults]), Leaves(row, leaves), Format.Bytes(row.Metrics[tables]),
                Format.Count(row.Metrics[tlbis]), Format.Duration(row.Metrics[time])]);
        }
        table.Notes.Add("All metrics per row: --format csv or json (docs/scale-out.md); a chart of one: --plot FILE.svg --metric NAME.");
        return table;
    }

    private static string Leaves(SweepRow row, int first)
    {
        Granule.TryParse(row.Granule, out Granule g);
        var parts = new List<string>();
        for (int level = 0; level <= Granule.LastLevel; level++)
        {
            long n = row.Metrics[first + level];
            if (n != 0)
                parts.Add($"{Format.Count(n)}×{SizeText.Format(g.LevelSize(level))}");
        }
        return parts.Count == 0 ? "none" : string.Join(" ", parts);
    }

    private static string Name<T>(T value)
        where T : struct, Enum => JsonNamingPolicy.CamelCase.ConvertName(value.ToString()).ToLowerInvariant();

    private static string Quote(string cell) =>
        cell.AsSpan().IndexOfAny(",\"\n\r") < 0 ? cell : "\"" + cell.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
