using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Runs;

namespace Stage2Lab.Simulation.Advice;

/// <summary>Where an item of an imported scenario came from: which item, and the record lines.</summary>
public readonly record struct ItemSource(string Item, string Records);

/// <summary>A verified change: the same scenario run before and after it under one policy, and what it saved.</summary>
public sealed record Suggestion(ScenarioChange Change, string Policy, DecisionStep Lifts, DecisionRecord From, RunMetrics Before, RunMetrics After, IReadOnlyList<ItemSource> Sources)
{
    /// <summary>Estimated time saved (<see cref="AdviceTime"/>), nanoseconds.</summary>
    public double SavedNs => Before.EstimatedNs - After.EstimatedNs;
}

/// <summary>Why a change that was tried is not shown.</summary>
public enum NotShownReason : byte
{
    /// <summary>The changed scenario ran, and took as long or longer.</summary>
    SavesNothing,
    /// <summary>The changed scenario ran but the VM behaved differently (more MMIO exits, failed faults, refusals).</summary>
    ChangesBehaviour,
    /// <summary>The changed scenario is not valid (the host refuses a mapping, there is no RAM for it, ...).</summary>
    CannotBeMade,
    /// <summary>The changed scenario would need more memory (or more pages mapped one by one) than a run may.</summary>
    OverMemoryLimit,
}

/// <summary>A change that was tried and is not shown, and why.</summary>
public sealed record TriedChange(ScenarioChange Change, string Policy, NotShownReason Reason, string? Detail, RunMetrics? After);

/// <summary>What advise found: per slot and policy the sizes and constraints; the verified changes, best first.</summary>
public sealed class AdviceResult
{
    public required string Scenario { get; init; }

    public required string File { get; init; }

    public string? Description { get; init; }

    public required IReadOnlyList<string> Policies { get; init; }

    /// <summary>Each policy's run of the scenario as it is.</summary>
    public required IReadOnlyList<PolicyRun> Baselines { get; init; }

    public List<SlotAdvice> Slots { get; } = new();

    /// <summary>Changes that saved time, most saved first.</summary>
    public List<Suggestion> Suggestions { get; } = new();

    public List<TriedChange> NotShown { get; } = new();

    /// <summary>Runs made: one per policy for the scenario as it is, one per change tried under a policy.</summary>
    public int Runs { get; set; }
}
