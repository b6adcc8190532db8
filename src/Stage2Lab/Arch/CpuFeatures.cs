namespace Stage2Lab.Arch;

/// <summary>
/// The CPU capabilities that change what KVM writes or which maintenance it issues.
/// </summary>
/// <param name="Fwb">ARM64_HAS_STAGE2_FWB: stage 2 forces write-back; no clean to PoC on map or unmap.</param>
/// <param name="Dic">ARM64_HAS_CACHE_DIC: no I-cache invalidation needed; KVM maps normal memory executable.</param>
/// <param name="RangeTlbi">FEAT_TLBIRANGE (system_supports_tlb_range): range TLBIs instead of whole-VMID ones.</param>
public readonly record struct CpuFeatures(bool Fwb, bool Dic, bool RangeTlbi)
{
    /// <summary>The defaults of the script formats: FWB off, DIC on, no range TLBI.</summary>
    public static CpuFeatures Default => new(Fwb: false, Dic: true, RangeTlbi: false);

    public override string ToString() => $"fwb={(Fwb ? "on" : "off")} dic={(Dic ? "on" : "off")} range-tlbi={(RangeTlbi ? "on" : "off")}";
}
