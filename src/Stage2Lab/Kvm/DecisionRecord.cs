using Stage2Lab.Arch;
using Stage2Lab.PageTables;

namespace Stage2Lab.Kvm;

/// <summary>One step of a fault decision: the kernel function, what it tested or did, and the outcome.</summary>
public readonly record struct DecisionStep(string Function, string Text, bool? Passed);

/// <summary>
/// Everything one fault decided and why: the slot and VMA found, every size tried and every test with its
/// numbers, the final size and prot, the outcome, and the page-table events it caused.
/// Built only when someone asks for an explanation, so the fault path allocates nothing otherwise.
/// </summary>
public sealed class DecisionRecord
{
    private readonly List<DecisionStep> _steps = new();

    public string Policy { get; internal set; } = "";

    public ulong Ipa { get; internal set; }

    public AccessKind Access { get; internal set; }

    public string? Slot { get; internal set; }

    public string? Vma { get; internal set; }

    public ulong Hva { get; internal set; }

    public FaultResult Result { get; internal set; }

    /// <summary>The page-table events the fault caused (descriptor writes, TLBIs, cache maintenance).</summary>
    public Stage2Counters Events { get; internal set; }

    public IReadOnlyList<DecisionStep> Steps => _steps;

    /// <summary>A test with its numbers: passed or failed.</summary>
    public void Check(string function, bool passed, string text) => _steps.Add(new DecisionStep(function, text, passed));

    /// <summary>A step that decides something without a test.</summary>
    public void Note(string function, string text) => _steps.Add(new DecisionStep(function, text, null));
}
