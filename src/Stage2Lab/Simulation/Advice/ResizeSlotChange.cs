using Stage2Lab.Host;
using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Advice;

/// <summary>
/// resize-slot: a memslot (and the mapping behind it) grown to block boundaries, so that the blocks at its edges lie
/// inside it (fault_supports_stage2_huge_mapping wants the whole block inside the slot; get_vma_page_shift inside
/// the VMA). The guest sees more memory: the change says how much.
/// </summary>
public sealed record ResizeSlotChange(
    int Slot,
    string MappingName,
    ulong OldIpa,
    ulong OldSizeBytes,
    ulong NewIpa,
    ulong NewSizeBytes,
    ulong BlockBytes,
    ulong OldMappingStart,
    ulong NewMappingStart,
    ulong NewMappingSizeBytes) : ScenarioChange
{
    /// <summary>A slot at most doubles: growing more is a different VM, not a layout fix.</summary>
    private const ulong MaxGrowthFactor = 2;

    public override ChangeKind Kind => ChangeKind.ResizeSlot;

    public override int? SlotId => Slot;

    public override IReadOnlyList<string> Mappings => [MappingName];

    public override string Key => $"resize-slot:{Slot}:{NewIpa:x}:{NewSizeBytes:x}";

    public ulong GrowthBytes => NewSizeBytes - OldSizeBytes;

    protected override void ApplyTo(Scenario copy)
    {
        VmaSpec m = ScenarioLayout.Mapping(copy, MappingName)!;
        ulong down = OldMappingStart - NewMappingStart;
        if (m.Pa is { } pa)
            m.Pa = pa - down;
        m.Start = NewMappingStart;
        m.SizeBytes = NewMappingSizeBytes;
        foreach (MemslotSpec slot in ScenarioLayout.SlotSpecs(copy, Slot))
        {
            if (slot.Ipa != OldIpa || slot.SizeBytes != OldSizeBytes)
                continue;
            slot.Hva -= OldIpa - NewIpa;
            slot.Ipa = NewIpa;
            slot.SizeBytes = NewSizeBytes;
        }
    }

    /// <summary>
    /// The slot grown to the boundaries of the largest block its mapping can give (PMD size for anonymous memory,
    /// the huge page for hugetlbfs), when its ends are not on them, its IPA and HVA agree modulo that block (else
    /// growing gains nothing), it is backed by one such mapping that can grow into free address space, and the
    /// growth at most doubles it.
    /// </summary>
    public static ResizeSlotChange? Propose(Scenario s, DecisionRecord record, DecisionStep step)
    {
        if (record.Slot is not { } slot || ScenarioLayout.SlotIsMovedOrDeleted(s, slot.Id))
            return null;
        if (step is not (HugeMappingCheckStep { Result: HugeMappingResult.OutsideSlot } or ForcePteStep { Reason: ForcePteReason.NoBlockFitsSlot }
            or MaxMapSizeStep { Reason: MaxMapSizeReason.NoBlockFitsSlot } or PfnMapBlockCheckStep { Result: PfnMapBlockResult.BelowVmStart or PfnMapBlockResult.BeyondVmEnd }))
            return null;
        List<VmaSpec> group = ScenarioLayout.MappingsOver(s, slot.Hva, slot.SizeBytes);
        if (group.Count != 1 || group[0].Kind == VmaKind.PfnMap)
            return null;
        VmaSpec m = group[0];
        // The largest block the mapping can give: a THP is PMD size at most, a hugetlbfs page its own size.
        ulong block = m.Kind == VmaKind.Hugetlb ? m.HugePageSize : s.Host.PageSize.LevelSize(PmdLevel);
        ulong end = slot.IpaEnd;
        if (block > record.MaxBlockSizeBytes || (slot.Ipa & (block - 1)) != (slot.Hva & (block - 1)) || end > ulong.MaxValue - block)
            return null;
        ulong newIpa = slot.Ipa & ~(block - 1);
        ulong newEnd = (end + block - 1) & ~(block - 1);
        ulong newSize = newEnd - newIpa;
        if (newIpa == slot.Ipa && newEnd == end || newSize > slot.SizeBytes * MaxGrowthFactor || newEnd > 1UL << s.Vm.IpaBits)
            return null;
        ulong newHva = slot.Hva - (slot.Ipa - newIpa);
        ulong newStart = Math.Min(m.Start, newHva);
        ulong newMapEnd = Math.Max(m.Start + m.SizeBytes, newHva + newSize);
        if (m.Pa is { } pa && pa < m.Start - newStart)
            return null;
        bool collides = s.Mappings.Any(o => o != m && o.Start < newMapEnd && newStart < o.Start + o.SizeBytes)
            || ScenarioLayout.AllSlotSpecs(s).Any(o => o.Id != slot.Id && o.Ipa < newEnd && newIpa < o.Ipa + o.SizeBytes);
        return collides ? null : new ResizeSlotChange(slot.Id, m.Name, slot.Ipa, slot.SizeBytes, newIpa, newSize, block, m.Start, newStart, newMapEnd - newStart);
    }

    /// <summary>The level of the smallest stage-2 block (PMD: 2M, 32M or 512M).</summary>
    private const int PmdLevel = 2;
}
