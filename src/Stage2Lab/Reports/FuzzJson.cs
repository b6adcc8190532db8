using System.Text.Json;
using Stage2Lab.Simulation.Campaigns;
using Stage2Lab.Simulation.Fuzzing;

namespace Stage2Lab.Reports;

/// <summary>A fuzz campaign (or shard) as JSON, stage2lab.fuzz/1, and read back for merge.</summary>
public static class FuzzJson
{
    public const string Schema = "stage2lab.fuzz/1";

    public static string Render(FuzzPart part) => JsonReport.Serialize(new FuzzDocument
    {
        Schema = Schema,
        ToolVersion = JsonReport.ToolVersion,
        Command = "fuzz",
        Policy = part.Policy,
        Pkvm = part.Pkvm,
        Seed = part.Seed,
        Layout = part.Layout.ToString().ToLowerInvariant(),
        Invariant = part.Invariant,
        CaseBudget = part.CaseBudget,
        EventBudget = part.EventBudget,
        TimeLimited = part.TimeLimited,
        Shard = ShardJson.Of(part.Shard),
        FirstCase = part.FirstCase,
        Cases = part.Cases,
        Events = part.Events,
        Finding = part.Finding is { } f ? new FuzzFindingJson
        {
            Case = f.Case,
            EventsToFind = f.EventsToFind,
            Invariant = f.Invariant,
            Violation = f.Violation,
            EventsBeforeShrinking = f.EventsBeforeShrinking,
            EventsAfterShrinking = f.EventsAfterShrinking,
            Reproducer = f.Reproducer,
        } : null,
    });

    /// <summary>The schema of a campaign document (sweep or fuzz), to tell them apart; null when it is not JSON with one.</summary>
    public static string? SchemaOf(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("schema", out JsonElement s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public static FuzzPart Read(string json, string name)
    {
        FuzzDocument? doc;
        try
        {
            doc = JsonSerializer.Deserialize<FuzzDocument>(json, DecisionJson.Options);
        }
        catch (JsonException ex)
        {
            throw new CampaignException($"{name}: not a fuzz document ({ex.Message}); merge reads what `s2lab fuzz --cases N --shard I/N --format json` wrote");
        }
        if (doc is null || doc.Schema != Schema)
            throw new CampaignException($"{name}: not a {Schema} document (schema {doc?.Schema ?? "missing"})");
        if (doc.ToolVersion != JsonReport.ToolVersion)
            throw new CampaignException($"{name} was written by s2lab {doc.ToolVersion}, this is {JsonReport.ToolVersion}; merge with the version that ran the shards, or run them again");
        if (!Enum.TryParse(doc.Layout, ignoreCase: true, out FuzzLayout layout))
            throw new CampaignException($"{name}: layout '{doc.Layout}' is not ordinary or any; the document is damaged");
        Shard shard = doc.Shard is { } s ? Shard.Parse($"{s.Index}/{s.Count}") : Shard.Whole;
        return new FuzzPart(doc.Policy, doc.Pkvm, doc.Seed, layout, doc.Invariant, doc.CaseBudget, doc.EventBudget, doc.TimeLimited, shard, doc.FirstCase, doc.Cases, doc.Events,
            doc.Finding is { } f ? new FuzzPartFinding(f.Case, f.EventsToFind, f.Invariant, f.Violation, f.EventsBeforeShrinking, f.EventsAfterShrinking, f.Reproducer) : null);
    }
}
