using Stage2Lab.Host;
using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Advice;

/// <summary>What a mapping's HVA must agree with.</summary>
public enum AlignReference : byte
{
    /// <summary>The PA get_vma_page_shift derives from vm_pgoff (a VM_PFNMAP mapping).</summary>
    Pa,
    /// <summary>The memslot's IPA (fault_supports_stage2_huge_mapping).</summary>
    Ipa,
}

/// <summary>
/// align-hva: the mappings behind a memslot placed (together, keeping their layout) so that the HVA agrees with
/// the PA (VM_PFNMAP: get_vma_page_shift, 5.14+, tests hva ≡ pa) or with the slot's IPA
/// (fault_supports_stage2_huge_mapping, every version) modulo the largest block — what QEMU 9.2 does for VFIO BARs
/// (vfio_region_mmap aligns each mmap to min(2^ctz(size), 1 GiB)).
/// </summary>
public sealed record AlignHvaChange(
    int Slot,
    IReadOnlyList<string> MappingNames,
    VmaKind MappingKind,
    bool Vfio,
    ulong OldStart,
    ulong NewStart,
    ulong SpanBytes,
    ulong BlockBytes,
    AlignReference Against,
    ulong Residue) : ScenarioChange
{
    public override ChangeKind Kind => ChangeKind.AlignHva;

    public override int? SlotId => Slot;

    public override IReadOnlyList<string> Mappings => MappingNames;

    public override string Key => $"align-hva:{string.Join(",", MappingNames)}:{NewStart:x}";

    protected override void ApplyTo(Scenario copy) =>
        ScenarioLayout.MoveMappings(copy, [.. MappingNames], OldStart, OldStart + SpanBytes, NewStart);

    /// <summary>
    /// The move that lifts a failed PA-alignment test (<see cref="PfnMapBlockCheckStep"/>) or an IPA/HVA residue
    /// mismatch (<see cref="HugeMappingCheckStep"/>) of a RAM slot; null when the mappings already agree (the
    /// constraint is something else) or there is no free place.
    /// </summary>
    public static AlignHvaChange? Propose(Scenario s, DecisionRecord record, DecisionStep step)
    {
        if (record.Slot is not { } slot)
            return null;
        List<VmaSpec> group = ScenarioLayout.MappingsOver(s, slot.Hva, slot.SizeBytes);
        if (group.Count == 0)
            return null;
        // No block larger than the mapping fits in it: align to the largest power of two it holds, at most the
        // largest block (QEMU 9.2 likewise aligns a BAR mmap to min(2^ctz(size), 1 GiB)).
        ulong block = Math.Min(record.MaxBlockSizeBytes, System.Numerics.BitOperations.RoundUpToPowerOf2(slot.SizeBytes + 1) >> 1);
        if (block <= s.Host.PageSize.PageSize)
            return null;
        ulong lo = group[0].Start;
        ulong hi = group.Max(m => m.Start + m.SizeBytes);
        VmaSpec reference;
        ulong wantedResidueOfReference;
        AlignReference against;
        switch (step)
        {
            case PfnMapBlockCheckStep { Result: PfnMapBlockResult.PaMisaligned } c:
                reference = group.Find(m => m.Start == c.VmStart) ?? group[0];
                // vm_start's PA: the faulting page's PA less its offset into the VMA.
                wantedResidueOfReference = (c.Pa - (c.Hva - c.VmStart)) & (block - 1);
                against = AlignReference.Pa;
                break;
            case HugeMappingCheckStep { Result: HugeMappingResult.ResidueMismatch } or ForcePteStep { Reason: ForcePteReason.NoBlockFitsSlot }
                or MaxMapSizeStep { Reason: MaxMapSizeReason.NoBlockFitsSlot }:
                reference = group[0];
                // A VM_PFNMAP mapping must keep hva ≡ pa: moving it to agree with the IPA would trade one failure for the other.
                if (reference.Kind == VmaKind.PfnMap)
                    return null;
                wantedResidueOfReference = (slot.Ipa - (slot.Hva - reference.Start)) & (block - 1);
                against = AlignReference.Ipa;
                break;
            default:
                return null;
        }
        ulong wantedLo = (wantedResidueOfReference - (reference.Start - lo)) & (block - 1);
        if ((lo & (block - 1)) == wantedLo)
            return null;
        string[] names = [.. group.Select(m => m.Name)];
        if (ScenarioLayout.PlaceHva(s, hi - lo, block, wantedLo, lo, names) is not { } newLo)
            return null;
        return new AlignHvaChange(slot.Id, names, reference.Kind, reference.VfioRegionIndex is not null, lo, newLo, hi - lo, block, against,
            (newLo + (reference.Start - lo)) & (block - 1));
    }
}
