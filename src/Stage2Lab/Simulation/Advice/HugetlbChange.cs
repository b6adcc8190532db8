using Stage2Lab.Host;
using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Advice;

/// <summary>
/// hugetlb: guest memory backed by hugetlbfs pages of a block size, which user_mem_abort maps whole
/// (get_vma_page_shift → huge_page_shift(hstate_vma)): PMD size (2M with 4K pages) or, with 4K pages, PUD size (1G,
/// the largest stage-2 block; THP never gives more than PMD size). The mapping keeps its place when it is aligned to
/// the page size, else it moves to the nearest aligned free place; its size is rounded up to whole huge pages; its
/// pages come from host RAM aligned to their size.
/// </summary>
public sealed record HugetlbChange(
    int Slot,
    string MappingName,
    ulong HugePageBytes,
    VmaKind OldKind,
    ulong OldHugePageBytes,
    ulong OldStart,
    ulong NewStart,
    ulong OldSizeBytes,
    ulong NewSizeBytes) : ScenarioChange
{
    public override ChangeKind Kind => ChangeKind.Hugetlb;

    public override int? SlotId => Slot;

    public override IReadOnlyList<string> Mappings => [MappingName];

    public override string Key => $"hugetlb:{MappingName}:{HugePageBytes:x}";

    protected override void ApplyTo(Scenario copy)
    {
        VmaSpec m = ScenarioLayout.Mapping(copy, MappingName)!;
        ScenarioLayout.MoveMappings(copy, [MappingName], OldStart, OldStart + OldSizeBytes, NewStart);
        m.Kind = VmaKind.Hugetlb;
        m.HugePageSize = HugePageBytes;
        m.SizeBytes = NewSizeBytes;
        m.Thp = null;
        if (m.Pa is { } pa && (pa & (HugePageBytes - 1)) != 0)
            m.Pa = null;
    }

    /// <summary>
    /// hugetlbfs pages of each block size larger than what the fault got, for the anonymous or hugetlbfs mapping it
    /// found; none when the slot's IPA does not agree with a huge-page-aligned HVA (align-ipa first) or there is no room.
    /// </summary>
    public static IEnumerable<HugetlbChange> Propose(Scenario s, DecisionRecord record)
    {
        if (record.Slot is not { } slot || record.Vma is not { Kind: VmaKind.Anonymous or VmaKind.Hugetlb, Name: { } name } || ScenarioLayout.Mapping(s, name) is not { } m)
            yield break;
        var config = new HostPageTableConfig(s.Host.PageSize, s.Host.VaBits);
        ulong[] sizes = config.PmdFolded ? [config.PmdSize] : [config.PmdSize, config.PudSize];
        foreach (ulong size in sizes)
        {
            if (size <= record.Result.SizeBytes || size > record.MaxBlockSizeBytes || !config.IsHugetlbSize(size)
                || m.Kind == VmaKind.Hugetlb && size <= m.HugePageSize)
                continue;
            // A hugetlbfs mapping starts on a huge page, so the slot's blocks need the IPA of that start aligned too.
            ulong ipaOfStart = slot.Ipa - (slot.Hva - m.Start);
            if ((ipaOfStart & (size - 1)) != 0 || m.SizeBytes > ulong.MaxValue - size)
                continue;
            ulong newSize = (m.SizeBytes + size - 1) & ~(size - 1);
            // The nearest huge-page-aligned free place: the mapping's own when it is aligned and the rounding fits.
            if (ScenarioLayout.PlaceHva(s, newSize, size, 0, m.Start, [m.Name]) is not { } newStart)
                continue;
            yield return new HugetlbChange(slot.Id, name, size, m.Kind, m.HugePageSize, m.Start, newStart, m.SizeBytes, newSize);
        }
    }
}
