using System.Reflection;
using System.Text.Json;
using Stage2Lab.Kvm.Policies;
using Stage2Lab.Simulation.Invariants;
using Stage2Lab.Simulation.Playback;
using Stage2Lab.Simulation.Runs;

namespace Stage2Lab.Reports;

/// <summary>
/// The JSON documents of s2lab (docs/output-format.md; schemas in docs/schema/, generated from the output types
/// by <see cref="JsonSchemas"/>): built as <see cref="ResultDocument"/> and <see cref="ScriptDecisionDocument"/>
/// and serialized by System.Text.Json. Keys are camelCase, in declaration order; numbers are exact integers
/// (times in nanoseconds), so the same scenario and seed give byte-identical JSON from the same s2lab.
/// </summary>
public static class JsonReport
{
    /// <summary>run, compare, explain --ipa and check.</summary>
    public const string Schema = "stage2lab.result/3";

    /// <summary>explain FILE.s2faults --line N.</summary>
    public const string ScriptDecisionSchema = "stage2lab.script-decision/1";

    /// <summary>The version of s2lab that writes the documents (semantic version, without build metadata).</summary>
    public static string ToolVersion { get; } = ReadToolVersion();

    public static string Render(ScenarioResult result, string command) => Serialize(Document(result, command));

    /// <summary>
    /// The same bytes as <see cref="Render"/>, written to <paramref name="utf8"/> as they are made: a long timeline's
    /// document (100,000 phases under three policies is ~450 MB of JSON) never has to fit in one string.
    /// </summary>
    public static void Write(Stream utf8, ScenarioResult result, string command) => Write(utf8, Document(result, command));

    /// <summary>Writes <paramref name="document"/> as <see cref="Serialize"/> does, to a stream.</summary>
    public static void Write<T>(Stream utf8, T document)
    {
        JsonSerializer.Serialize(utf8, document, DecisionJson.Options);
        utf8.Write("\n"u8);
    }

    /// <summary>The result as its JSON document, before serialization (to add to, or to inspect in tests).</summary>
    public static ResultDocument Document(ScenarioResult result, string command) => new()
    {
        Schema = Schema,
        ToolVersion = ToolVersion,
        Command = command,
        Scenario = result.Scenario,
        File = Path.GetFileName(result.File),
        Description = result.Description,
        Policies = [.. result.Runs.Select(Run)],
    };

    public static string RenderScriptDecision(string file, int line, Kvm.DecisionRecord record) => Serialize(new ScriptDecisionDocument
    {
        Schema = ScriptDecisionSchema,
        ToolVersion = ToolVersion,
        Command = "explain",
        File = file,
        Line = line,
        Policy = record.Policy,
        Decision = DecisionJson.ToValue(record),
    });

    public static string Serialize<T>(T document) => JsonSerializer.Serialize(document, DecisionJson.Options) + "\n";

    private static PolicyRunJson Run(PolicyRun run) => new()
    {
        Policy = run.Policy,
        Kind = JsonNamingPolicy.CamelCase.ConvertName((PolicyRegistry.Find(run.Policy)?.Kind ?? PolicyKind.Kernel).ToString()),
        Description = run.Description,
        CostProfile = run.Profile.Name,
        Granule = run.Granule.Name,
        Phases = new ProjectedList<PhaseResult, PhaseJson>(run.Phases, Phase),
        Final = new FinalJson
        {
            Leaves = LevelsJson.Of(run.Final.Leaves),
            MappedBytes = LevelsJson.Of(run.Final.MappedBytes),
            TablePages = LevelsJson.Of(run.Final.TablePages),
            TableBytes = run.Final.TableBytes,
            DirtyPages = run.Final.DirtyPages,
            ShadowLeaves = run.Final.ShadowLeaves is { } shadow ? LevelsJson.Of(shadow) : null,
        },
        Totals = new TotalsJson
        {
            Faults = FaultCountsJson.Of(run.TotalFaults),
            Events = run.TotalEvents,
            EstimatedNs = Ns(run.TotalEstimatedNs),
        },
        Decisions = [.. run.Decisions.Select(d => new DecisionGroupJson
        {
            Phase = d.Phase,
            Event = d.EventNumber,
            FirstAccessIndex = d.FirstAccessIndex,
            Count = d.Count,
            EstimatedNsEach = Ns(d.EstimatedNsEach),
            EstimatedNsTotal = Ns(d.EstimatedNsTotal),
            Representative = DecisionJson.ToValue(d.Representative),
        })],
        Explained = run.Explained is { } e ? new ExplainedJson
        {
            Pick = JsonNamingPolicy.CamelCase.ConvertName(e.Pick.ToString()),
            Note = DecisionTables.PickNote(e),
            Phase = e.Phase,
            Event = e.EventNumber,
            AccessIndex = e.AccessIndex,
            AskedEvent = e.AskedEvent,
            OutsideAskedEvent = e.OutsideAskedEvent,
            Decision = DecisionJson.ToValue(e.Record),
        } : null,
        Check = run.EventsChecked > 0 || run.Violations.Count > 0 ? new CheckJson
        {
            EventsChecked = run.EventsChecked,
            FirstViolatingEvent = run.FirstViolatingEvent,
            FirstViolatingFault = run.FirstViolatingFault is { } f ? DecisionJson.ToValue(f) : null,
        } : null,
        Violations = [.. run.Violations.Select(Violation)],
        Tlb = run.TlbProfile is { } tlb ? new TlbRunJson
        {
            Profile = tlb.Name,
            Description = tlb.Description,
            L2LookupCycles = tlb.L2LookupCycles,
            WalkReferenceCycles = tlb.WalkReferenceCycles,
            ClockGhz = tlb.ClockGhz,
            Totals = TlbCountsJson.Of(run.TotalTlb ?? default, run.TotalEstimatedGuestNs),
        } : null,
    };

    private static PhaseJson Phase(PhaseResult p) => new()
    {
        Name = p.Name,
        Kind = p.Kind,
        Event = p.EventNumber,
        Accesses = (long)p.Accesses,
        Faults = FaultCountsJson.Of(p.Faults),
        Events = p.Events,
        TablePages = LevelsJson.Of(p.TablePages),
        TableBytes = p.TableBytes,
        EstimatedNs = Ns(p.EstimatedNs),
        DirtyPagesHarvested = p.DirtyPagesHarvested,
        Refusals = [.. p.Refusals.Select(Refusal)],
        Tlb = p.Tlb is { } tlb ? TlbCountsJson.Of(tlb, p.EstimatedGuestNs) : null,
    };

    private static RefusalJson Refusal(EventRefusal r) => new()
    {
        Errno = Arch.Errno.Name(r.Errno),
        Reason = r.Kvm is { } kvm ? JsonNamingPolicy.CamelCase.ConvertName(kvm.GetType().Name) : "host",
        Slot = r.Kvm?.SlotId,
        Text = RefusalText.Describe(r),
    };

    private static ViolationJson Violation(InvariantViolation v) => new()
    {
        Invariant = JsonNamingPolicy.CamelCase.ConvertName(v.Kind.ToString()),
        Event = v.EventIndex >= 0 ? v.EventIndex : null,
        Ipa = Format.Hex(v.Ipa),
        SizeBytes = (long)v.SizeBytes,
        Leaf = v.Leaf is { } leaf ? new LeafJson
        {
            Ipa = Format.Hex(leaf.Ipa),
            Level = leaf.Level,
            SizeBytes = (long)leaf.SizeBytes,
            Descriptor = Format.Hex(leaf.Descriptor.Raw),
        } : null,
        TablePage = v.TablePageId >= 0 ? v.TablePageId : null,
        Text = v.Message,
    };

    /// <summary>A model time as the documents write it: whole nanoseconds.</summary>
    internal static long Ns(double ns) => (long)Math.Round(ns);

    private static string ReadToolVersion()
    {
        string? version = typeof(JsonReport).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        if (string.IsNullOrEmpty(version))
            return "0.0.0";
        int plus = version.IndexOf('+', StringComparison.Ordinal);
        return plus >= 0 ? version[..plus] : version;
    }
}
