using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using Stage2Lab.Reports;
using Stage2Lab.Simulation.Advice;
using Stage2Lab.Tests.Golden;
using Stage2Lab.Tests.Robustness;

namespace Stage2Lab.Tests.Advice;

/// <summary>
/// advise's JSON against docs/schema/advice.schema.json (issue 11, item 15): every kind of change's details validate
/// (the examples alone do not suggest every kind), and the schema refuses what the document never holds.
/// </summary>
public class AdviceJsonSchemaTests
{
    private static readonly Lazy<JsonSchema> Schema = new(() =>
        JsonSchema.FromText(File.ReadAllText(Path.Combine(RepoPaths.RepoRoot, "docs", "schema", "advice.schema.json"))));

    /// <summary>The scenarios of <see cref="AdviceKit"/>, between them suggesting every kind of change.</summary>
    private static readonly string[] Scenarios =
    [
        AdviceKit.MisalignedRam, AdviceKit.MisplacedBarSlot, AdviceKit.RaggedRamSlot, AdviceKit.LoggedRamAndFramebuffer,
        AdviceKit.RamWithoutThp, AdviceKit.HostPteBar, AdviceKit.BarUnderV513, AdviceKit.LoggedRam,
    ];

    [Fact]
    public void Every_kind_of_suggestion_validates_against_the_schema()
    {
        var kinds = new HashSet<ChangeKind>();
        foreach (string yaml in Scenarios)
        {
            AdviceResult result = AdviceKit.Advise(yaml);
            kinds.UnionWith(result.Suggestions.Select(s => s.Change.Kind));
            using JsonDocument document = JsonDocument.Parse(AdviceJson.Render(result));
            EvaluationResults results = Schema.Value.Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
            Assert.True(results.IsValid, string.Join("\n", JsonSchemaTests.Failures(results).Take(20)));
        }
        Assert.Equal(ChangeKinds.All, kinds.Order());
    }

    [Fact]
    public void The_schema_rejects_a_missing_key_a_foreign_details_shape_and_the_old_names()
    {
        var (code, output, err) = CliProcess.InProcess("advise", Path.Combine(RepoPaths.Examples, "ram-no-thp.yaml"), "--policy", "v6.18", "--format", "json");
        Assert.True(code == 0, err);
        Assert.True(Valid(JsonNode.Parse(output)!));
        var breakages = new (string What, Action<JsonNode> Break)[]
        {
            ("no toolVersion", d => d.AsObject().Remove("toolVersion")),
            ("no savedNs", d => Thp(d).AsObject().Remove("savedNs")),
            ("advice/1", d => d["schema"] = "stage2lab.advice/1"),
            ("levels as L0..L3", d => Rename(Thp(d)["before"]!["leaves"]!.AsObject(), "l1", "L1")),
            ("thp details without madviseAfter", d => Thp(d)["details"]!.AsObject().Remove("madviseAfter")),
            ("thp details with another kind's key", d => Thp(d)["details"]!["blockBytes"] = 2_097_152),
            ("a constraint whose binding is no step", d => d["slots"]![0]!["constraints"]![0]!["binding"]!["step"] = "noSuchStep"),
        };
        foreach (var (what, breakIt) in breakages)
        {
            JsonNode document = JsonNode.Parse(output)!;
            breakIt(document);
            Assert.False(Valid(document), $"{what}: still validates");
        }
    }

    private static bool Valid(JsonNode document)
    {
        using JsonDocument parsed = JsonDocument.Parse(document.ToJsonString());
        return Schema.Value.Evaluate(parsed.RootElement).IsValid;
    }

    private static JsonNode Thp(JsonNode document) =>
        document["suggestions"]!.AsArray().First(s => s!["kind"]!.GetValue<string>() == "thp")!;

    private static void Rename(JsonObject obj, string from, string to)
    {
        JsonNode? value = obj[from];
        obj.Remove(from);
        obj[to] = value;
    }
}
