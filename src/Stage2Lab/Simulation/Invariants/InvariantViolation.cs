using Stage2Lab.Kvm;
using Stage2Lab.PageTables;

namespace Stage2Lab.Simulation.Invariants;

/// <summary>
/// One broken invariant: which, where (the leaf, or the IPA range / table page it concerns), the event that
/// caused it (an index or script line the caller supplies; -1 when unknown), and a sentence with the numbers.
/// </summary>
/// <param name="Kind">Which invariant.</param>
/// <param name="EventIndex">The caller's event index or script line; -1 when the caller gave none.</param>
/// <param name="Ipa">The IPA the violation concerns: the leaf's, the dirty page's, or the table's span start.</param>
/// <param name="SizeBytes">The size of that IPA range (the leaf size, a page, or the table's span).</param>
/// <param name="Leaf">The offending leaf (IPA, level, size, descriptor), when a leaf is at fault.</param>
/// <param name="Message">What is wrong, with numbers.</param>
public sealed record InvariantViolation(InvariantKind Kind, int EventIndex, ulong Ipa, ulong SizeBytes, LeafEntry? Leaf, string Message)
{
    /// <summary>The explanation of the fault that caused it, when the caller had one.</summary>
    public DecisionRecord? Decision { get; init; }

    /// <summary>For table violations: the table page (pool id); otherwise -1.</summary>
    public int TablePageId { get; init; } = -1;

    public override string ToString()
    {
        string at = EventIndex >= 0 ? $"event {EventIndex}: " : "";
        return $"{at}{Kind}: {Message}";
    }
}
