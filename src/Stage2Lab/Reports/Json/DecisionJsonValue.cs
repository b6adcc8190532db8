using System.Text.Json.Serialization;
using Stage2Lab.Kvm;
using Stage2Lab.PageTables;

namespace Stage2Lab.Reports;

/// <summary>
/// One decision as JSON (docs/output-format.md, "Decisions"): the outcome as data, the memslot and VMA it saw,
/// the typed steps (each with its sentence), the binding constraint and the page-table events it caused.
/// </summary>
public sealed class DecisionJsonValue
{
    public required string Ipa { get; init; }

    /// <summary>read, write or exec.</summary>
    public required string Access { get; init; }

    /// <summary>hit, mapped, relaxed, mmio, retry, error, injected, forwardedToL1.</summary>
    public required string Outcome { get; init; }

    /// <summary>The outcome in one sentence.</summary>
    public required string Summary { get; init; }

    /// <summary>mapped/relaxed: the leaf's size.</summary>
    public long? SizeBytes { get; init; }

    public string? Pa { get; init; }

    public string? Prot { get; init; }

    /// <summary>error: the errno's name (EFAULT, ENOEXEC, ...).</summary>
    public string? Errno { get; init; }

    public MemslotInfo? Memslot { get; init; }

    public VmaInfo? Vma { get; init; }

    /// <summary>The typed steps, in the order the kernel took them.</summary>
    public required IReadOnlyList<StepJson> Decision { get; init; }

    /// <summary>The first step that stopped a larger mapping; null when none did.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public required BindingConstraintJson? BindingConstraint { get; init; }

    /// <summary>The page-table events this decision caused alone.</summary>
    public required Stage2Counters Events { get; init; }
}

/// <summary>A step with its sentence: written as the step's own object plus "text".</summary>
public readonly record struct StepJson(DecisionStep Step, string Text);

/// <summary>Which step bound the mapping size.</summary>
public sealed class BindingConstraintJson
{
    public required int StepIndex { get; init; }

    public required string Step { get; init; }

    public required string Function { get; init; }

    public required string Text { get; init; }
}
