using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Stage2Lab.Arch;
using Stage2Lab.Kvm;

namespace Stage2Lab.Reports;

/// <summary>
/// A decision record as JSON: the typed steps as objects (a <c>step</c> discriminator, the kernel
/// <c>function</c>, <c>passed</c> for tests, then the step's own numbers, then its sentence as <c>text</c>),
/// and the binding constraint. Addresses are hex strings; sizes (names ending in Bytes) and counts are numbers.
/// The field names are the step records' property names in camelCase (docs/output-format.md lists them).
/// </summary>
public static class DecisionJson
{
    private static readonly JsonSerializerOptions Options = CreateOptions();

    public static void Write(Utf8JsonWriter w, DecisionRecord d)
    {
        w.WriteString("ipa", Format.Hex(d.Ipa));
        w.WriteString("access", d.Access.ToString().ToLowerInvariant());
        w.WriteString("outcome", OutcomeName(d.Result.Outcome));
        w.WriteString("summary", d.SlotChange is null ? DecisionText.Outcome(d.Result) : $"memslot {d.SlotChange.ToString()!.ToLowerInvariant()}");
        if (d.Result.Outcome is FaultOutcome.Mapped or FaultOutcome.Relaxed)
        {
            w.WriteNumber("sizeBytes", d.Result.SizeBytes);
            w.WriteString("pa", Format.Hex(d.Result.Pa));
            w.WriteString("prot", d.Result.Prot.ToLetters());
        }
        if (d.Result.Errno != 0)
            w.WriteString("errno", Errno.Name(d.Result.Errno));
        if (d.Slot is { } slot)
        {
            w.WritePropertyName("memslot");
            JsonSerializer.Serialize(w, slot, Options);
        }
        if (d.Vma is { } vma)
        {
            w.WritePropertyName("vma");
            JsonSerializer.Serialize(w, vma, Options);
        }
        w.WriteStartArray("decision");
        foreach (DecisionStep step in d.Steps)
            Step(step, d).WriteTo(w);
        w.WriteEndArray();
        if (d.BindingConstraint is { } binding)
        {
            w.WriteStartObject("bindingConstraint");
            w.WriteNumber("stepIndex", IndexOf(d, binding));
            w.WriteString("step", StepName(binding.GetType()));
            w.WriteString("function", binding.Function);
            w.WriteString("text", DecisionText.Describe(binding, d));
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("bindingConstraint");
        }
    }

    /// <summary>One step as a JSON object.</summary>
    public static JsonObject Step(DecisionStep step, DecisionRecord? record = null)
    {
        var node = (JsonObject)JsonSerializer.SerializeToNode(step, Options)!;
        node["text"] = DecisionText.Describe(step, record);
        return node;
    }

    /// <summary>The discriminator of a step type: its name without "Step", in camelCase (hugeMappingCheck).</summary>
    public static string StepName(Type type)
    {
        string name = type.Name.EndsWith("Step", StringComparison.Ordinal) ? type.Name[..^4] : type.Name;
        return char.ToLowerInvariant(name[0]) + name[1..];
    }

    /// <summary>Every step type (the closed set), for documentation and schemas.</summary>
    public static IReadOnlyList<Type> StepTypes { get; } =
        [.. typeof(DecisionStep).Assembly.GetTypes().Where(t => t.IsSealed && typeof(DecisionStep).IsAssignableFrom(t)).OrderBy(t => t.Name, StringComparer.Ordinal)];

    public static string OutcomeName(FaultOutcome outcome) => JsonNamingPolicy.CamelCase.ConvertName(outcome.ToString());

    private static int IndexOf(DecisionRecord d, DecisionStep step)
    {
        for (int i = 0; i < d.Steps.Count; i++)
        {
            if (ReferenceEquals(d.Steps[i], step))
                return i;
        }
        return -1;
    }

    private static JsonSerializerOptions CreateOptions()
    {
        var resolver = new DefaultJsonTypeInfoResolver();
        resolver.Modifiers.Add(Modify);
        var options = new JsonSerializerOptions
        {
            TypeInfoResolver = resolver,
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        options.Converters.Add(new ProtConverter());
        options.MakeReadOnly();
        return options;
    }

    /// <summary>Steps are written as their own type with a discriminator first; addresses as hex.</summary>
    private static void Modify(JsonTypeInfo info)
    {
        if (info.Type == typeof(DecisionStep))
        {
            info.PolymorphismOptions = new JsonPolymorphismOptions { TypeDiscriminatorPropertyName = "step" };
            foreach (Type t in StepTypes)
                info.PolymorphismOptions.DerivedTypes.Add(new JsonDerivedType(t, StepName(t)));
        }
        if (info.Kind != JsonTypeInfoKind.Object)
            return;
        // The base's Function and Passed first, then the step's own numbers in declaration order.
        var ordered = info.Properties.OrderBy(p => p.Name == "function" ? 0 : p.Name == "passed" ? 1 : 2).ToList();
        info.Properties.Clear();
        foreach (JsonPropertyInfo p in ordered)
        {
            if (p.PropertyType == typeof(ulong) && !IsCount(p.Name))
                p.CustomConverter = HexConverter.Instance;
            else if (p.PropertyType == typeof(ulong?) && !IsCount(p.Name))
                p.CustomConverter = NullableHexConverter.Instance;
            info.Properties.Add(p);
        }
    }

    private static bool IsCount(string jsonName) =>
        jsonName.EndsWith("Bytes", StringComparison.Ordinal) || jsonName is "pages" or "numPages" or "firstPage" or "slotPages";

    private sealed class HexConverter : JsonConverter<ulong>
    {
        public static readonly HexConverter Instance = new();

        public override ulong Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            ulong.Parse(reader.GetString()![2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);

        public override void Write(Utf8JsonWriter writer, ulong value, JsonSerializerOptions options) => writer.WriteStringValue(Format.Hex(value));
    }

    private sealed class NullableHexConverter : JsonConverter<ulong?>
    {
        public static readonly NullableHexConverter Instance = new();

        public override ulong? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.Null ? null : ulong.Parse(reader.GetString()![2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);

        public override void Write(Utf8JsonWriter writer, ulong? value, JsonSerializerOptions options)
        {
            if (value is { } v)
                writer.WriteStringValue(Format.Hex(v));
            else
                writer.WriteNullValue();
        }
    }

    private sealed class ProtConverter : JsonConverter<Prot>
    {
        public override Prot Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            throw new NotSupportedException("prot is written, not read");

        public override void Write(Utf8JsonWriter writer, Prot value, JsonSerializerOptions options) => writer.WriteStringValue(value.ToLetters());
    }
}
