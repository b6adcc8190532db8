using Stage2Lab.Arch;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Advice;

/// <summary>
/// granule: a host kernel with another page size. KVM/arm64 uses the host's PAGE_SIZE as the stage-2 granule
/// (kvm_get_vtcr sets VTCR_EL2.TG0 from PAGE_SIZE), so every page fault maps that much and blocks become 32M (16K) or
/// 512M (64K). Sweeps that stepped by the old page size keep their step, so the guest makes the same accesses.
/// </summary>
public sealed record GranuleChange(Granule From, Granule To) : ScenarioChange
{
    public override ChangeKind Kind => ChangeKind.Granule;

    public override int? SlotId => null;

    public override IReadOnlyList<string> Mappings => [];

    public override string Key => $"granule:{To.Name}";

    protected override void ApplyTo(Scenario copy)
    {
        foreach (TimelineEvent ev in copy.Timeline)
        {
            if (ev is WorkloadEvent { StrideBytes: 0 } w)
                w.StrideBytes = From.PageSize;
        }
        copy.Host.PageSize = To;
    }

    /// <summary>Every other granule (larger first: a larger one lifts more).</summary>
    public static IEnumerable<GranuleChange> Propose(Scenario s)
    {
        foreach (Granule g in new[] { Granule.Size64K, Granule.Size16K, Granule.Size4K })
        {
            if (g != s.Host.PageSize)
                yield return new GranuleChange(s.Host.PageSize, g);
        }
    }
}
