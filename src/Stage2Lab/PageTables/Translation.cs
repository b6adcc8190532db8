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
