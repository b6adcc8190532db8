using Stage2Lab.Host;
using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Advice;

/// <summary>
/// align-ipa: the memslot at a guest physical address that agrees with its HVA modulo the largest block
/// (fault_supports_stage2_huge_mapping compares the slot's IPA and HVA offsets within a block), with the guest's
/// accesses to it moved along.
/// </summary>
public sealed record AlignIpaChange(int Slot, IReadOnlyList<string> MappingNames, VmaKind MappingKind, ulong OldIpa, ulong NewIpa, ulong SizeBytes, ulong BlockBytes)
    : ScenarioChange
{
    public override ChangeKind Kind => ChangeKind.AlignIpa;

    public override int? SlotId => Slot;

    public override IReadOnlyList<string> Mappings => MappingNames;

    public override string Key => $"align-ipa:{Slot}:{NewIpa:x}";

    protected override void ApplyTo(Scenario copy) => ScenarioLayout.MoveSlotIpa(copy, Slot, OldIpa, SizeBytes, NewIpa);

    /// <summary>
    /// The move that makes the slot's IPA agree with its HVA; null when they already agree, when the timeline moves
    /// or deletes the slot, when an L1 hypervisor's stage 2 maps into it (a nested guest), or when there is no room.
    /// </summary>
    public static AlignIpaChange? Propose(Scenario s, DecisionRecord record, DecisionStep step)
    {
        if (record.Slot is not { } slot || s.Nested is not null || ScenarioLayout.SlotIsMovedOrDeleted(s, slot.Id))
            return null;
        if (step is not (HugeMappingCheckStep { Result: HugeMappingResult.ResidueMismatch } or ForcePteStep { Reason: ForcePteReason.NoBlockFitsSlot }
            or MaxMapSizeStep { Reason: MaxMapSizeReason.NoBlockFitsSlot }))
            return null;
        // As for align-hva: modulo the largest block that fits in the slot.
        ulong block = Math.Min(record.MaxBlockSizeBytes, System.Numerics.BitOperations.RoundUpToPowerOf2(slot.SizeBytes + 1) >> 1);
        if (block <= s.Host.PageSize.PageSize)
            return null;
        ulong wanted = slot.Hva & (block - 1);
        if ((slot.Ipa & (block - 1)) == wanted)
            return null;
        if (ScenarioLayout.PlaceIpa(s, slot.SizeBytes, block, wanted, slot.Ipa, slot.Id) is not { } newIpa)
            return null;
        List<VmaSpec> group = ScenarioLayout.MappingsOver(s, slot.Hva, slot.SizeBytes);
        return new AlignIpaChange(slot.Id, [.. group.Select(m => m.Name)], group.Count > 0 ? group[0].Kind : VmaKind.Anonymous, slot.Ipa, newIpa, slot.SizeBytes, block);
    }
}
