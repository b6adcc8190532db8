using System.Text.Json;
using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Advice;

namespace Stage2Lab.Reports;

/// <summary>
/// The JSON output of `advise` (docs/output-format.md; schema docs/schema/advice.schema.json): built as
/// <see cref="AdviceDocument"/> and serialized like the other documents (<see cref="JsonReport.Serialize"/>), so the
/// same scenario gives byte-identical JSON whatever the parallelism.
/// </summary>
public static class AdviceJson
{
    /// <summary>/2: typed output with a schema; toolVersion and command added, the levels l0..l3 (camelCase) as in result/3.</summary>
    public const string Schema = "stage2lab.advice/2";

    public static string Render(AdviceResult result) => JsonReport.Serialize(Document(result));

    /// <summary>The advice as its JSON document, before serialization.</summary>
    public static AdviceDocument Document(AdviceResult result) => new()
    {
        Schema = Schema,
        ToolVersion = JsonReport.ToolVersion,
        Command = "advise",
        Scenario = result.Scenario,
        File = Path.GetFileName(result.File),
        Description = result.Description,
        Policies = result.Policies,
        // AdviceTime: the host's estimated time, plus the guest's translation time when the runs had the TLB model.
        Time = TlbProfile(result) is null ? "host" : "host+guest",
        TlbProfile = TlbProfile(result),
        Runs = result.Runs,
        Slots = [.. result.Slots.Select(Slot)],
        Suggestions = [.. result.Suggestions.Select((s, i) => Suggestion(i + 1, s))],
        NotShown = [.. result.NotShown.Select(t => new NotShownJson
        {
            Kind = ChangeKinds.Name(t.Change.Kind),
            Target = AdviceText.Target(t.Change),
            Policy = t.Policy,
            Reason = JsonNamingPolicy.CamelCase.ConvertName(t.Reason.ToString()),
            Text = AdviceText.Reason(t),
        })],
    };

    private static string? TlbProfile(AdviceResult result) =>
        result.Baselines.FirstOrDefault(b => b.TlbProfile is not null)?.TlbProfile?.Name;

    private static SlotAdviceJson Slot(SlotAdvice slot) => new()
    {
        Policy = slot.Policy,
        Slot = slot.SlotId,
        Ipa = Format.Hex(slot.Ipa),
        SizeBytes = (long)slot.SizeBytes,
        Hva = Format.Hex(slot.Hva),
        Mappings = slot.Mappings,
        Source = slot.Source,
        FaultsBySize = [.. slot.FaultSizes.Select(s => new SizeCountJson { SizeBytes = (long)s.SizeBytes, Faults = s.Faults })],
        PagesMappedAtCreation = slot.PagesMappedAtCreation,
        LeavesAtEnd = LevelsJson.Of(slot.LeavesAtEnd),
        Constraints = [.. slot.Constraints.Select(c => new ConstraintJson
        {
            Phase = c.Phase,
            Faults = c.Count,
            SizeBytes = (long)c.SizeBytes,
            Binding = Step(c.Step, c.Representative),
            LiftedBy = [.. c.Levers.Select(ChangeKinds.Name)],
        })],
    };

    private static SuggestionJson Suggestion(int rank, Suggestion s) => new()
    {
        Rank = rank,
        Kind = ChangeKinds.Name(s.Change.Kind),
        Target = AdviceText.Target(s.Change),
        Change = AdviceText.Change(s.Change),
        Policy = s.Policy,
        SavedNs = JsonReport.Ns(s.SavedNs),
        Before = Metrics(s.Before),
        After = Metrics(s.After),
        Slot = s.Change.SlotId,
        Mappings = s.Change.Mappings,
        Lifts = Step(s.Lifts, s.From),
        Details = Details(s.Change),
        Sources = [.. s.Sources.Select(source => new ItemSourceJson { Item = source.Item, Records = source.Records })],
    };

    private static StepJson Step(DecisionStep step, DecisionRecord record) => new(step, DecisionText.Describe(step, record));

    private static RunMetricsJson Metrics(RunMetrics m) => new()
    {
        Granule = m.Granule.Name,
        Faults = m.Faults,
        Leaves = LevelsJson.Of(m.Leaves),
        TableBytes = m.TableBytes,
        TlbInvalidations = m.TlbInvalidations,
        CleanedBytes = m.CleanedBytes,
        HostEstimatedNs = JsonReport.Ns(m.HostEstimatedNs),
        GuestEstimatedNs = JsonReport.Ns(m.GuestEstimatedNs),
        EstimatedNs = JsonReport.Ns(m.EstimatedNs),
    };

    /// <summary>The change's own numbers, by kind (docs/output-format.md lists them).</summary>
    private static ChangeDetailsJson Details(ScenarioChange change) => change switch
    {
        AlignHvaChange a => new AlignHvaDetailsJson
        {
            OldHva = Format.Hex(a.OldStart),
            NewHva = Format.Hex(a.NewStart),
            SpanBytes = (long)a.SpanBytes,
            BlockBytes = (long)a.BlockBytes,
            Against = a.Against == AlignReference.Pa ? "pa" : "ipa",
        },
        AlignIpaChange a => new AlignIpaDetailsJson
        {
            OldIpa = Format.Hex(a.OldIpa),
            NewIpa = Format.Hex(a.NewIpa),
            SizeBytes = (long)a.SizeBytes,
            BlockBytes = (long)a.BlockBytes,
        },
        ResizeSlotChange r => new ResizeSlotDetailsJson
        {
            OldIpa = Format.Hex(r.OldIpa),
            OldSizeBytes = (long)r.OldSizeBytes,
            NewIpa = Format.Hex(r.NewIpa),
            NewSizeBytes = (long)r.NewSizeBytes,
            GrowthBytes = (long)r.GrowthBytes,
            BlockBytes = (long)r.BlockBytes,
            NewMappingHva = Format.Hex(r.NewMappingStart),
            NewMappingSizeBytes = (long)r.NewMappingSizeBytes,
        },
        SplitSlotChange sp => new SplitSlotDetailsJson
        {
            Unlogged = sp.Unlogged,
            Pieces = [.. sp.Pieces.Select(p => new SplitPieceJson { Slot = p.Id, Ipa = Format.Hex(p.Ipa), SizeBytes = (long)p.SizeBytes, Mapping = p.Mapping, Logged = p.Logged })],
        },
        ThpChange t => new ThpDetailsJson
        {
            HostThpBefore = t.HostBefore.ToString().ToLowerInvariant(),
            HostThpAfter = t.HostAfter.ToString().ToLowerInvariant(),
            MadviseBefore = Madvise(t.AdviceBefore),
            MadviseAfter = Madvise(t.AdviceAfter),
        },
        HugetlbChange h => new HugetlbDetailsJson
        {
            HugePageSizeBytes = (long)h.HugePageBytes,
            OldHva = Format.Hex(h.OldStart),
            NewHva = Format.Hex(h.NewStart),
            OldSizeBytes = (long)h.OldSizeBytes,
            NewSizeBytes = (long)h.NewSizeBytes,
        },
        GranuleChange g => new GranuleDetailsJson { From = g.From.Name, To = g.To.Name },
        NoDirtyLoggingChange n => new NoDirtyLoggingDetailsJson { LoggedFromCreation = n.LoggedFromCreation, EventsDropped = n.EventsDropped },
        HostHugePfnmapChange => new HostHugePfnmapDetailsJson(),
        _ => throw new ArgumentException($"no JSON details for {change.GetType().Name}", nameof(change)),
    };

    /// <summary>A mapping's MADV_HUGEPAGE / MADV_NOHUGEPAGE advice (null: neither).</summary>
    private static string Madvise(bool? advice) => advice switch { true => "hugepage", false => "nohugepage", null => "none" };
}
