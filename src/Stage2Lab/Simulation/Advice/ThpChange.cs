using Stage2Lab.Host;
using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Advice;

/// <summary>
/// thp: anonymous guest memory backed by transparent huge pages, which transparent_hugepage_adjust (5.5+) maps
/// with PMD-size blocks: THP enabled for the host (never → madvise) and for the mapping (MADV_HUGEPAGE, which QEMU
/// already applies to guest RAM in ram_block_add).
/// </summary>
public sealed record ThpChange(int Slot, string MappingName, ThpMode HostBefore, ThpMode HostAfter, bool? AdviceBefore, bool? AdviceAfter) : ScenarioChange
{
    public override ChangeKind Kind => ChangeKind.Thp;

    public override int? SlotId => Slot;

    public override IReadOnlyList<string> Mappings => [MappingName];

    public override string Key => $"thp:{MappingName}:{HostAfter}:{AdviceAfter}";

    protected override void ApplyTo(Scenario copy)
    {
        copy.Host.Thp = HostAfter;
        ScenarioLayout.Mapping(copy, MappingName)!.Thp = AdviceAfter;
    }

    /// <summary>THP for the anonymous mapping the fault found, when it has none; null otherwise.</summary>
    public static ThpChange? Propose(Scenario s, DecisionRecord record)
    {
        if (record.Slot is not { } slot || record.Vma is not { Kind: VmaKind.Anonymous, Name: { } name } || ScenarioLayout.Mapping(s, name) is not { } m)
            return null;
        ThpMode host = s.Host.Thp;
        bool on = host switch
        {
            ThpMode.Always => m.Thp != false,
            ThpMode.Madvise => m.Thp == true,
            _ => false,
        };
        if (on)
            return null;
        // madvise is what a careful host sets: QEMU madvises its RAM, nothing else changes.
        ThpMode hostAfter = host == ThpMode.Never ? ThpMode.Madvise : host;
        return new ThpChange(slot.Id, name, host, hostAfter, m.Thp, true);
    }
}
