using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using Stage2Lab.PageTables;

namespace Stage2Lab.Reports;

/// <summary>
/// A decision record as JSON: the typed steps as objects (a <c>step</c> discriminator, the kernel
/// <c>function</c>, <c>passed</c> for tests, then the step's own numbers, then its sentence as <c>text</c>),
/// and the binding constraint. Addresses are hex strings; sizes (names ending in Bytes) and counts are numbers.
/// The field names are the step records' property names in camelCase (docs/output-format.md lists them).
/// </summary>
public static class DecisionJson
{
    /// <summary>The serializer options of every s2lab JSON document (steps, decisions, the result documents).</summary>
    public static JsonSerializerOptions Options { get; } = CreateOptions();

    /// <summary>A decision as its JSON value (the shape docs/output-format.md describes under "Decisions").</summary>
    public static DecisionJsonValue ToValue(DecisionRecord d)
    {
        bool mapped = d.Result.Outcome is FaultOutcome.Mapped or FaultOutcome.Relaxed;
        DecisionStep? binding = d.BindingConstraint;
        return new DecisionJsonValue
        {
            Ipa = Format.Hex(d.Ipa),
            Access = d.Access.ToString().ToLowerInvariant(),
            Outcome = OutcomeName(d.Result.Outcome),
            Summary = d.SlotChange is null ? DecisionText.Outcome(d.Result) : $"memslot {d.SlotChange.ToString()!.ToLowerInvariant()}",
            SizeBytes = mapped ? (long)d.Result.SizeBytes : null,
            Pa = mapped ? Format.Hex(d.Result.Pa) : null,
            Prot = mapped ? d.Result.Prot.ToLetters() : null,
            Errno = d.Result.Errno != 0 ? Errno.Name(d.Result.Errno) : null,
            Memslot = d.Slot,
            Vma = d.Vma,
            Decision = [.. d.Steps.Select(step => new StepJson(step, DecisionText.Describe(step, d)))],
            BindingConstraint = binding is null ? null : new BindingConstraintJson
            {
                StepIndex = IndexOf(d, binding),
                Step = StepName(binding.GetType()),
                Function = binding.Function,
                Text = DecisionText.Describe(binding, d),
            },
            Events = d.Events,
        };
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
            WriteIndented = true,
            RespectNullableAnnotations = true,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        };
        // Before the enum converter, which would otherwise write Prot as flag names ("rw, device"): letters, as
        // the decision's own "prot" ("rwd").
        options.Converters.Add(new ProtConverter());
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        options.Converters.Add(new CountersConverter());
        options.Converters.Add(new StepJsonConverter());
        options.MakeReadOnly();
        return options;
    }

    /// <summary>Steps are written as their own type with a discriminator first; addresses as hex.</summary>
    private static void Modify(JsonTypeInfo info)
    {
        // The output types (Reports) say what they hold in their own types: hex addresses are strings there.
        if (info.Type.Namespace == typeof(DecisionJson).Namespace)
            return;
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

    /// <summary>Stage-2 event counters as an object, one camelCase key per counter (descriptorWrites, ...).</summary>
    internal sealed class CountersConverter : JsonConverter<Stage2Counters>
    {
        public override Stage2Counters Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            throw new NotSupportedException("counters are written, not read");

        public override void Write(Utf8JsonWriter writer, Stage2Counters value, JsonSerializerOptions options)
        {
            writer.WriteStartObject();
            for (int i = 0; i < Stage2Counters.Count; i++)
                writer.WriteNumber(CounterKey((Stage2Counter)i), value[(Stage2Counter)i]);
            writer.WriteEndObject();
        }
    }

    /// <summary>A counter's JSON key: its name in camelCase.</summary>
    public static string CounterKey(Stage2Counter counter) => JsonNamingPolicy.CamelCase.ConvertName(counter.ToString());

    /// <summary>A step as its own object (discriminator, function, passed, its fields) with its sentence as "text".</summary>
    internal sealed class StepJsonConverter : JsonConverter<StepJson>
    {
        public override StepJson Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            throw new NotSupportedException("steps are written, not read");

        public override void Write(Utf8JsonWriter writer, StepJson value, JsonSerializerOptions options)
        {
            var node = (JsonObject)JsonSerializer.SerializeToNode(value.Step, options)!;
            node["text"] = value.Text;
            node.WriteTo(writer, options);
        }
    }

    internal sealed class HexConverter : JsonConverter<ulong>
    {
        public static readonly HexConverter Instance = new();

        public override ulong Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            ulong.Parse(reader.GetString()![2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);

        public override void Write(Utf8JsonWriter writer, ulong value, JsonSerializerOptions options) => writer.WriteStringValue(Format.Hex(value));
    }

    internal sealed class NullableHexConverter : JsonConverter<ulong?>
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

    internal sealed class ProtConverter : JsonConverter<Prot>
    {
        public override Prot Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            throw new NotSupportedException("prot is written, not read");

        public override void Write(Utf8JsonWriter writer, Prot value, JsonSerializerOptions options) => writer.WriteStringValue(value.ToLetters());
    }
}
