namespace Stage2Lab.Simulation.Tlb;

/// <summary>
/// One linearly mapped range of the guest's stage 1: guest VA <c>Va + x</c> translates to IPA <c>Ipa + x</c> for
/// every <c>x &lt; SizeBytes</c>, with leaves of <see cref="Mapping"/>. This is how Linux maps its linear map
/// (PAGE_OFFSET + (phys - PHYS_OFFSET)) and how an ioremap or a user mapping of a BAR looks.
/// </summary>
public readonly record struct GuestRegion(string Name, ulong Va, ulong Ipa, ulong SizeBytes, GuestMapping Mapping)
{
    public ulong VaEnd => Va + SizeBytes;

    public ulong IpaEnd => Ipa + SizeBytes;
}

/// <summary>What is wrong with a guest stage-1 description: the region (-1 for the section), the field, and why.</summary>
public readonly record struct GuestProblem(int RegionIndex, string Field, string Message);
