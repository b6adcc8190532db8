using System.Text.Json;
using Json.Schema;
using Stage2Lab.Reports;
using static Stage2Lab.Tests.Robustness.CliProcess;

namespace Stage2Lab.Tests.Golden;

/// <summary>
/// Issue 11, item 15: the published JSON Schemas (docs/schema/) are the ones JsonSchemaExporter generates from
/// the output types, and every command's JSON validates against its schema (JsonSchema.Net, draft 2020-12).
/// To accept a deliberate change of the output types, run with S2LAB_UPDATE_GOLDEN=1 and review the diff.
/// </summary>
public class JsonSchemaTests
{
    private static string Folder => Path.Combine(RepoPaths.RepoRoot, "docs", "schema");

    private static string Example(string name) => Path.Combine(RepoPaths.Examples, name);

    [Fact]
    public void The_published_schemas_are_generated_from_the_output_types()
    {
        foreach (var (fileName, schemaName, type) in JsonSchemas.All)
        {
            string path = Path.Combine(Folder, fileName);
            string generated = JsonSchemas.Render(schemaName, type);
            if (Environment.GetEnvironmentVariable("S2LAB_UPDATE_GOLDEN") == "1")
            {
                Directory.CreateDirectory(Folder);
                File.WriteAllText(path, generated);
            }
            Assert.True(File.Exists(path), $"{path} is missing; run the tests with S2LAB_UPDATE_GOLDEN=1 once");
            Assert.Equal(File.ReadAllText(path), generated);
        }
    }

    public static TheoryData<string, string[]> Commands() => new()
    {
        { "result.schema.json", ["run", Example("nic-small-bars-mmio.yaml"), "--check"] },
        { "result.schema.json", ["run", Example("device-reset-zap.yaml"), "--policy", "v5.13"] },
        { "result.schema.json", ["compare", Example("ram-hugetlb-1g.yaml")] },
        { "result.schema.json", ["compare", Example("live-migration.yaml"), "--check", "--policies", "v6.18"] },
        { "result.schema.json", ["compare", Example("nested-l2-guest.yaml"), "--policies", "v7.4"] },
        { "result.schema.json", ["explain", Example("gpu-32g-bar-aligned.yaml"), "--ipa", "0x80_0000_0000", "--event", "1"] },
        { "result.schema.json", ["explain", Example("nic-small-bars-mmio.yaml"), "--ipa", "0x1000"] },
        { "result.schema.json", ["check", Path.Combine(RepoPaths.Examples, "bugs", "v6.18-block-past-vma-end.yaml")] },
        { "result.schema.json", ["check", Example("protected-guest.yaml")] },
        { "sweep.schema.json", ["sweep", Example("device-reset-zap.yaml"), "--vary", "mappings.accel-bar.size=1G,4G", "--policies", "v6.18"] },
        { "sweep.schema.json", ["sweep", Example("device-reset-zap.yaml"), "--vary", "mappings.accel-bar.size=1G,4G", "--policies", "v6.18", "--shard", "2/2"] },
        { "fuzz.schema.json", ["fuzz", "--policy", "bug-log-blocks", "--layout", "ordinary", "--cases", "20", "--out", Path.Combine(Path.GetTempPath(), "s2lab-schema-test-fuzz.yaml")] },
        { "fuzz.schema.json", ["fuzz", "--policy", "v6.18", "--layout", "ordinary", "--cases", "20", "--shard", "1/2"] },
        { "script-decision.schema.json", ["explain", Path.Combine(RepoPaths.FaultGolden, "named-bar-vma-ends-mid-block.s2faults"), "--line", "LINE"] },
        { "advice.schema.json", ["advise", Example("gpu-32g-bar-unaligned.yaml")] },
        { "advice.schema.json", ["advise", Example("ram-no-thp.yaml")] },
    };

    [Theory]
    [MemberData(nameof(Commands))]
    public void Every_commands_json_validates_against_its_schema(string schemaFile, string[] args)
    {
        if (args.Contains("LINE"))
            args = [.. args.Select(a => a == "LINE" ? FirstAccessLine(args[1]).ToString(System.Globalization.CultureInfo.InvariantCulture) : a)];
        var (code, output, err) = InProcess([.. args, "--format", "json"]);
        Assert.True(code is 0 or 1, $"exit {code}: {err}");
        JsonSchema schema = JsonSchema.FromText(File.ReadAllText(Path.Combine(Folder, schemaFile)));
        using JsonDocument document = JsonDocument.Parse(output);
        EvaluationResults results = schema.Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
        Assert.True(results.IsValid, string.Join("\n", Failures(results).Take(20)));
        Assert.Equal(JsonReport.ToolVersion, document.RootElement.GetProperty("toolVersion").GetString());
    }

    [Fact]
    public void The_schema_rejects_what_it_does_not_describe()
    {
        // A validation that cannot fail proves nothing: an unknown key, a kebab-case counter, a prose violation.
        var (_, output, _) = InProcess("check", Path.Combine(RepoPaths.Examples, "bugs", "v6.18-block-past-vma-end.yaml"), "--format", "json");
        JsonSchema schema = JsonSchema.FromText(File.ReadAllText(Path.Combine(Folder, "result.schema.json")));
        foreach (var (from, to) in new[]
        {
            ("\"command\": \"check\"", "\"command\": \"check\", \"extra\": 1"),
            ("\"descriptorWrites\"", "\"descriptor-writes\""),
            ("\"schema\": \"stage2lab.result/3\"", "\"schema\": \"stage2lab.result/2\""),
        })
        {
            Assert.Contains(from, output);
            using JsonDocument broken = JsonDocument.Parse(output.Replace(from, to, StringComparison.Ordinal));
            Assert.False(schema.Evaluate(broken.RootElement).IsValid, $"{from} -> {to} still validates");
        }
        using JsonDocument parsed = JsonDocument.Parse(output);
        JsonElement violation = parsed.RootElement.GetProperty("policies")[0].GetProperty("violations")[0];
        Assert.Equal(JsonValueKind.Object, violation.ValueKind);
        Assert.Equal("leafInOneVma", violation.GetProperty("invariant").GetString());
    }

    [Fact]
    public void Json_keys_are_camel_case_everywhere()
    {
        var (_, output, _) = InProcess("compare", Example("device-reset-zap.yaml"), "--check", "--format", "json");
        using JsonDocument document = JsonDocument.Parse(output);
        var bad = new List<string>();
        void Walk(JsonElement e, string path)
        {
            if (e.ValueKind == JsonValueKind.Object)
            {
                foreach (JsonProperty p in e.EnumerateObject())
                {
                    if (!System.Text.RegularExpressions.Regex.IsMatch(p.Name, "^[a-z][a-zA-Z0-9]*$"))
                        bad.Add(path + "." + p.Name);
                    Walk(p.Value, path + "." + p.Name);
                }
            }
            else if (e.ValueKind == JsonValueKind.Array)
            {
                foreach (JsonElement item in e.EnumerateArray())
                    Walk(item, path + "[]");
            }
        }
        Walk(document.RootElement, "$");
        Assert.Empty(bad.Distinct());
    }

    private static int FirstAccessLine(string script) =>
        File.ReadAllLines(script).Select((l, i) => (l, i)).First(x => x.l.StartsWith("access", StringComparison.Ordinal)).i + 1;

    internal static IEnumerable<string> Failures(EvaluationResults results)
    {
        if (results.Errors is { } errors)
        {
            foreach (var (keyword, message) in errors)
                yield return $"{results.InstanceLocation} ({results.EvaluationPath}): {keyword}: {message}";
        }
        foreach (EvaluationResults d in results.Details ?? [])
        {
            foreach (string f in Failures(d))
                yield return f;
        }
    }
}
