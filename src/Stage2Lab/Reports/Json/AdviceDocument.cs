using System.Text.Json.Serialization;

namespace Stage2Lab.Reports;

// The output types of `advise` (docs/output-format.md, "stage2lab.advice/2"), built by AdviceJson and published as
// docs/schema/advice.schema.json by JsonSchemas, like ResultDocument: keys camelCase in declaration order, addresses
// as hex strings, sizes (names ending in Bytes) and times (integer nanoseconds) as numbers.

/// <summary>`advise` as JSON: the slots with their binding constraints, the verified suggestions, the changes not shown.</summary>
public sealed class AdviceDocument
{
    public required string Schema { get; init; }

    /// <summary>The s2lab version that wrote the document.</summary>
    public required string ToolVersion { get; init; }

    public required string Command { get; init; }

    public required string Scenario { get; init; }

    /// <summary>The scenario file's name, without its folder.</summary>
    public required string File { get; init; }

    public string? Description { get; init; }

    public required IReadOnlyList<string> Policies { get; init; }

    /// <summary>What estimatedNs and savedNs count (AdviceTime): "host", the host's estimated time, or "host+guest" with
    /// the guest's estimated translation time under the TLB model added.</summary>
    public required string Time { get; init; }

    /// <summary>The guest TLB profile the runs used (--tlb); absent with --tlb off.</summary>
    public string? TlbProfile { get; init; }

    /// <summary>Runs made: one per policy as it is, one per change tried under a policy.</summary>
    public required int Runs { get; init; }

    /// <summary>Per policy, per memslot (by id).</summary>
    public required IReadOnlyList<SlotAdviceJson> Slots { get; init; }

    /// <summary>Verified changes that saved time, most saved first.</summary>
    public required IReadOnlyList<SuggestionJson> Suggestions { get; init; }

    public required IReadOnlyList<NotShownJson> NotShown { get; init; }
}

/// <summary>A memslot under one policy: the sizes its faults got and what bound them.</summary>
public sealed class SlotAdviceJson
{
    public required string Policy { get; init; }

    public required int Slot { get; init; }

    public required string Ipa { get; init; }

    public required long SizeBytes { get; init; }

    public required string Hva { get; init; }

    public required IReadOnlyList<string> Mappings { get; init; }

    /// <summary>Imported scenarios only: the record lines the slot comes from.</summary>
    public string? Source { get; init; }

    /// <summary>Largest size first.</summary>
    public required IReadOnlyList<SizeCountJson> FaultsBySize { get; init; }

    /// <summary>Before 5.14: VM_PFNMAP pages mapped one by one by the slot ioctl.</summary>
    public required long PagesMappedAtCreation { get; init; }

    public required LevelsJson LeavesAtEnd { get; init; }

    /// <summary>One per kind of decision that was bound, costliest first.</summary>
    public required IReadOnlyList<ConstraintJson> Constraints { get; init; }
}

public sealed class SizeCountJson
{
    public required long SizeBytes { get; init; }

    public required long Faults { get; init; }
}

/// <summary>A binding constraint of a slot: where, how many faults it bound, what they got, the step, what lifts it.</summary>
public sealed class ConstraintJson
{
    public required string Phase { get; init; }

    public required long Faults { get; init; }

    public required long SizeBytes { get; init; }

    public required StepJson Binding { get; init; }

    /// <summary>The kinds of change tried for it (align-hva, ...).</summary>
    public required IReadOnlyList<string> LiftedBy { get; init; }
}

/// <summary>A verified change: what it is, the policy, the runs before and after, and the constraint it lifts.</summary>
public sealed class SuggestionJson
{
    public required int Rank { get; init; }

    /// <summary>align-hva, align-ipa, resize-slot, split-slot, thp, hugetlb, host-huge-pfnmap, granule, no-dirty-logging.</summary>
    public required string Kind { get; init; }

    public required string Target { get; init; }

    public required string Change { get; init; }

    public required string Policy { get; init; }

    /// <summary>before.estimatedNs - after.estimatedNs.</summary>
    public required long SavedNs { get; init; }

    public required RunMetricsJson Before { get; init; }

    public required RunMetricsJson After { get; init; }

    /// <summary>Absent for a change of the host (granule).</summary>
    public int? Slot { get; init; }

    public required IReadOnlyList<string> Mappings { get; init; }

    public required StepJson Lifts { get; init; }

    public required ChangeDetailsJson Details { get; init; }

    /// <summary>Imported scenarios: where the items the change touches came from.</summary>
    public required IReadOnlyList<ItemSourceJson> Sources { get; init; }
}

/// <summary>A run judged: faults, leaves and page-table memory at the end of the timeline, TLB and cache work, time.</summary>
public sealed class RunMetricsJson
{
    public required string Granule { get; init; }

    public required long Faults { get; init; }

    public required LevelsJson Leaves { get; init; }

    public required long TableBytes { get; init; }

    public required long TlbInvalidations { get; init; }

    public required long CleanedBytes { get; init; }

    public required long HostEstimatedNs { get; init; }

    /// <summary>The guest's estimated translation time under the TLB model (0 with --tlb off).</summary>
    public required long GuestEstimatedNs { get; init; }

    public required long EstimatedNs { get; init; }
}

public sealed class ItemSourceJson
{
    public required string Item { get; init; }

    public required string Records { get; init; }
}

/// <summary>A change tried and not shown, and why.</summary>
public sealed class NotShownJson
{
    public required string Kind { get; init; }

    public required string Target { get; init; }

    public required string Policy { get; init; }

    /// <summary>savesNothing, changesBehaviour, cannotBeMade or overMemoryLimit.</summary>
    public required string Reason { get; init; }

    public required string Text { get; init; }
}

/// <summary>
/// The change's own numbers: one shape per kind (the suggestion's "kind" says which), written without a
/// discriminator of its own; the schema accepts exactly one of the shapes.
/// </summary>
[JsonDerivedType(typeof(AlignHvaDetailsJson))]
[JsonDerivedType(typeof(AlignIpaDetailsJson))]
[JsonDerivedType(typeof(ResizeSlotDetailsJson))]
[JsonDerivedType(typeof(SplitSlotDetailsJson))]
[JsonDerivedType(typeof(ThpDetailsJson))]
[JsonDerivedType(typeof(HugetlbDetailsJson))]
[JsonDerivedType(typeof(HostHugePfnmapDetailsJson))]
[JsonDerivedType(typeof(GranuleDetailsJson))]
[JsonDerivedType(typeof(NoDirtyLoggingDetailsJson))]
public abstract class ChangeDetailsJson;

public sealed class AlignHvaDetailsJson : ChangeDetailsJson
{
    /// <summary>The first mapping's start, before and after.</summary>
    public required string OldHva { get; init; }

    public required string NewHva { get; init; }

    public required long SpanBytes { get; init; }

    public required long BlockBytes { get; init; }

    /// <summary>pa or ipa: what the HVA now agrees with.</summary>
    public required string Against { get; init; }
}

public sealed class AlignIpaDetailsJson : ChangeDetailsJson
{
    public required string OldIpa { get; init; }

    public required string NewIpa { get; init; }

    public required long SizeBytes { get; init; }

    public required long BlockBytes { get; init; }
}

public sealed class ResizeSlotDetailsJson : ChangeDetailsJson
{
    public required string OldIpa { get; init; }

    public required long OldSizeBytes { get; init; }

    public required string NewIpa { get; init; }

    public required long NewSizeBytes { get; init; }

    public required long GrowthBytes { get; init; }

    public required long BlockBytes { get; init; }

    public required string NewMappingHva { get; init; }

    public required long NewMappingSizeBytes { get; init; }
}

public sealed class SplitSlotDetailsJson : ChangeDetailsJson
{
    /// <summary>The mapping whose piece is no longer dirty-logged.</summary>
    public required string Unlogged { get; init; }

    public required IReadOnlyList<SplitPieceJson> Pieces { get; init; }
}

public sealed class SplitPieceJson
{
    public required int Slot { get; init; }

    public required string Ipa { get; init; }

    public required long SizeBytes { get; init; }

    public required string Mapping { get; init; }

    public required bool Logged { get; init; }
}

public sealed class ThpDetailsJson : ChangeDetailsJson
{
    /// <summary>never, madvise or always.</summary>
    public required string HostThpBefore { get; init; }

    public required string HostThpAfter { get; init; }

    /// <summary>hugepage, nohugepage or none.</summary>
    public required string MadviseBefore { get; init; }

    public required string MadviseAfter { get; init; }
}

public sealed class HugetlbDetailsJson : ChangeDetailsJson
{
    public required long HugePageSizeBytes { get; init; }

    public required string OldHva { get; init; }

    public required string NewHva { get; init; }

    public required long OldSizeBytes { get; init; }

    public required long NewSizeBytes { get; init; }
}

/// <summary>host-huge-pfnmap has no numbers: the mapping is the suggestion's "mappings".</summary>
public sealed class HostHugePfnmapDetailsJson : ChangeDetailsJson;

public sealed class GranuleDetailsJson : ChangeDetailsJson
{
    /// <summary>4K, 16K or 64K.</summary>
    public required string From { get; init; }

    public required string To { get; init; }
}

public sealed class NoDirtyLoggingDetailsJson : ChangeDetailsJson
{
    public required bool LoggedFromCreation { get; init; }

    public required int EventsDropped { get; init; }
}
