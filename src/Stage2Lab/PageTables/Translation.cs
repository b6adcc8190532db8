using Stage2Lab.Arch;

namespace Stage2Lab.PageTables;

/// <summary>What the hardware's stage-2 walk concluded for one access.</summary>
public enum TranslationOutcome : byte
{
    /// <summary>A valid leaf allows the access.</summary>
    Mapped,
    /// <summary>The walk met an invalid entry at <see cref="Translation.Level"/> (FSC translation fault, level L).</summary>
    TranslationFault,
    /// <summary>A valid leaf at <see cref="Translation.Level"/> does not allow the access (FSC permission fault).</summary>
    PermissionFault,
    /// <summary>The IPA is at or beyond 2^IPA-bits: a translation fault at level 0.</summary>
    AddressSizeFault,
}

/// <summary>translate(ipa): where an IPA goes, or the fault the hardware would raise.</summary>
public readonly record struct Translation(TranslationOutcome Outcome, int Level, ulong Pa, ulong SizeBytes, Descriptor Leaf)
{
    public bool IsMapped => Outcome == TranslationOutcome.Mapped;

    /// <summary>The IPA the leaf starts at, for a translation that reached a leaf.</summary>
    public ulong LeafIpa(ulong ipa) => ipa & ~(SizeBytes - 1);
}

/// <summary>One valid leaf of the table, as a dump lists it.</summary>
public readonly record struct LeafEntry(ulong Ipa, int Level, ulong SizeBytes, Descriptor Descriptor);

/// <summary>Receives leaves in IPA order (a struct, so enumeration allocates nothing).</summary>
public interface ILeafSink
{
    void OnLeaf(in LeafEntry leaf);
}

/// <summary>
/// A leaf sink that also takes the valid entries of a last-level table in one call, where enumerating a big
/// table one leaf at a time would cost a call per 4 KiB page (a 256 GiB BAR mapped page by page has 67M).
/// </summary>
public interface IPageLeavesSink : ILeafSink
{
    /// <summary>
    /// Consecutive valid last-level leaves: <paramref name="entries"/>[i] maps [ipa + i*pageBytes, +pageBytes).
    /// The same leaves, in the same order, as that many <see cref="ILeafSink.OnLeaf"/> calls at the last level.
    /// </summary>
    void OnPages(ulong ipa, ulong pageBytes, ReadOnlySpan<ulong> entries);
}
