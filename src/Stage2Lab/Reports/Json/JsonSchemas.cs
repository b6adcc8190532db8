using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Schema;
using System.Text.Json.Serialization.Metadata;
using Stage2Lab.Arch;
using Stage2Lab.PageTables;

namespace Stage2Lab.Reports;

/// <summary>
/// The JSON Schemas of s2lab's documents (docs/schema/*.schema.json), generated with System.Text.Json's
/// <see cref="JsonSchemaExporter"/> from the same types and options that write the documents. What the exporter
/// cannot see (the converters that write addresses as hex strings, counters as an object per counter, a step
/// with its sentence) is filled in by <see cref="Transform"/> from the same code paths.
/// </summary>
public static class JsonSchemas
{
    /// <summary>Every published schema: its file name under docs/schema/ and its document type.</summary>
    public static IReadOnlyList<(string FileName, string SchemaName, Type Type)> All { get; } =
    [
        ("result.schema.json", JsonReport.Schema, typeof(ResultDocument)),
        ("script-decision.schema.json", JsonReport.ScriptDecisionSchema, typeof(ScriptDecisionDocument)),
        ("advice.schema.json", AdviceJson.Schema, typeof(AdviceDocument)),
        ("sweep.schema.json", SweepReport.Schema, typeof(SweepDocument)),
        ("fuzz.schema.json", FuzzJson.Schema, typeof(FuzzDocument)),
    ];

    private static readonly JsonSchemaExporterOptions ExporterOptions = new()
    {
        TreatNullObliviousAsNonNullable = true,
        TransformSchemaNode = Transform,
    };

    /// <summary>The schema of one document type, as published.</summary>
    public static string Render(string schemaName, Type type)
    {
        JsonNode body = DecisionJson.Options.GetJsonSchemaAsNode(type, ExporterOptions);
        var root = new JsonObject
        {
            ["$schema"] = "https://json-schema.org/draft/2020-12/schema",
            ["title"] = schemaName,
            ["description"] = $"The JSON document s2lab writes as \"{schemaName}\" (docs/output-format.md). Generated from the output types by JsonSchemaExporter; do not edit by hand.",
        };
        foreach (var (key, value) in body.AsObject())
            root[key] = value?.DeepClone();
        // The schema key names its own document: a reader can tell result/3 from another version.
        root["properties"]!["schema"] = new JsonObject { ["const"] = schemaName };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n";
    }

    private static JsonNode Transform(JsonSchemaExporterContext context, JsonNode schema)
    {
        Type type = context.TypeInfo.Type;
        if (type == typeof(Stage2Counters))
            return Counters();
        if (type == typeof(StepJson))
            return Steps();
        // The exporter leaves out the items of a list whose element has its own converter: give them.
        if (type == typeof(IReadOnlyList<StepJson>))
            return new JsonObject { ["type"] = "array", ["items"] = Steps() };
        if (context.PropertyInfo?.CustomConverter is DecisionJson.HexConverter)
            return Hex(nullable: false);
        if (context.PropertyInfo?.CustomConverter is DecisionJson.NullableHexConverter)
            return Hex(nullable: true);
        // A polymorphic type written without a discriminator (advice's details): exactly one of its derived shapes.
        if (context.TypeInfo.PolymorphismOptions is { DerivedTypes.Count: > 0 } poly && poly.DerivedTypes.All(d => d.TypeDiscriminator is null))
            return new JsonObject { ["oneOf"] = new JsonArray([.. poly.DerivedTypes.Select(d => DecisionJson.Options.GetJsonSchemaAsNode(d.DerivedType, ExporterOptions))]) };
        if (type == typeof(Prot))
            return new JsonObject { ["type"] = "string", ["pattern"] = "^[-rwxdn]*$" };
        // An object without properties (host-huge-pfnmap's details) is closed too: it is {} and nothing else.
        if (context.TypeInfo.Kind == JsonTypeInfoKind.Object && schema is JsonObject obj && (obj.ContainsKey("properties") || context.TypeInfo.Properties.Count == 0 && !obj.ContainsKey("$ref")))
            Close(obj);
        return schema;
    }

    /// <summary>
    /// Every object the documents hold is closed (a key the schema does not name is an error), and a key that may
    /// be null is not required: null values are left out (JsonIgnoreCondition.WhenWritingNull).
    /// </summary>
    private static void Close(JsonObject obj)
    {
        obj["additionalProperties"] = false;
        if (obj["required"] is not JsonArray required || obj["properties"] is not JsonObject properties)
            return;
        foreach (JsonNode? name in required.ToList())
        {
            if (properties[name!.GetValue<string>()] is JsonObject property && MayBeNull(property))
                required.Remove(name);
        }
    }

    private static bool MayBeNull(JsonObject property) =>
        property["type"] is JsonArray types && types.Any(t => t?.GetValue<string>() == "null");

    private static JsonObject Hex(bool nullable) => new()
    {
        ["type"] = nullable ? new JsonArray("string", "null") : "string",
        ["pattern"] = "^0x[0-9a-f]+$",
    };

    /// <summary>The counters object: one integer per counter, every one present.</summary>
    private static JsonObject Counters()
    {
        var properties = new JsonObject();
        var required = new JsonArray();
        for (int i = 0; i < Stage2Counters.Count; i++)
        {
            string key = DecisionJson.CounterKey((Stage2Counter)i);
            properties[key] = new JsonObject { ["type"] = "integer", ["minimum"] = 0 };
            required.Add(key);
        }
        return new JsonObject { ["type"] = "object", ["properties"] = properties, ["required"] = required, ["additionalProperties"] = false };
    }

    /// <summary>A step: one of the step kinds (its discriminator "step" first), with its sentence as "text".</summary>
    private static JsonObject Steps()
    {
        var kinds = new JsonArray();
        foreach (Type t in DecisionJson.StepTypes)
        {
            var step = (JsonObject)DecisionJson.Options.GetJsonSchemaAsNode(t, ExporterOptions);
            var properties = (JsonObject)step["properties"]!;
            properties.Insert(0, "step", new JsonObject { ["const"] = DecisionJson.StepName(t) });
            properties["text"] = new JsonObject { ["type"] = "string" };
            var required = step["required"] as JsonArray ?? [];
            required.Add("step");
            required.Add("text");
            step["required"] = required;
            Close(step);
            kinds.Add(step);
        }
        return new JsonObject { ["oneOf"] = kinds };
    }
}
