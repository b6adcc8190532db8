using Stage2Lab.Host;
using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Advice;

/// <summary>
/// host-huge-pfnmap: the host maps a VM_PFNMAP mapping with PMD-size leaves (huge pfnmap: vfio-pci's huge_fault,
/// 6.12+ on arm64), which a policy that sizes PFNMAP mappings from the host page table (host-pte) follows.
/// </summary>
public sealed record HostHugePfnmapChange(int Slot, string MappingName) : ScenarioChange
{
    public override ChangeKind Kind => ChangeKind.HostHugePfnmap;

    public override int? SlotId => Slot;

    public override IReadOnlyList<string> Mappings => [MappingName];

    public override string Key => $"host-huge-pfnmap:{MappingName}";

    protected override void ApplyTo(Scenario copy) => ScenarioLayout.Mapping(copy, MappingName)!.HostPmd = true;

    /// <summary>Huge pfnmap for the VM_PFNMAP mapping the fault found, when the host maps it with pages; null otherwise.</summary>
    public static HostHugePfnmapChange? Propose(Scenario s, DecisionRecord record)
    {
        if (record.Slot is not { } slot || record.Vma is not { Kind: VmaKind.PfnMap, Name: { } name } || ScenarioLayout.Mapping(s, name) is not { HostPmd: false })
            return null;
        return new HostHugePfnmapChange(slot.Id, name);
    }
}
