namespace Stage2Lab.PageTables;

/// <summary>
/// Receives the TLB maintenance the hypervisor issues, as the hardware would: a TLB model subscribes through
/// <see cref="Stage2PageTable.TlbListener"/> to remove exactly the entries each instruction covers. The calls
/// mirror the instructions __kvm_tlb_flush_vmid_ipa, __kvm_tlb_flush_vmid_ipa_nsh, __kvm_tlb_flush_vmid_range
/// and __kvm_tlb_flush_vmid (arch/arm64/kvm/hyp/vhe/tlb.c) execute, in their order.
/// </summary>
public interface ITlbInvalidationListener
{
    /// <summary>TLBI IPAS2E1IS / IPAS2E1: stage-2 entries (of any level) used to translate <paramref name="ipa"/>.
    /// <paramref name="levelHint"/> is the TTL hint (the level of the leaf removed), or -1 when unknown.</summary>
    void InvalidateStage2Ipa(ulong ipa, int levelHint);

    /// <summary>TLBI RIPAS2E1IS (one chunk of __flush_s2_tlb_range_op): stage-2 entries overlapping the range.</summary>
    void InvalidateStage2Range(ulong ipa, ulong sizeBytes);

    /// <summary>TLBI VMALLE1IS / VMALLE1: every stage-1 entry of the VMID, combined stage-1+2 entries included.</summary>
    void InvalidateStage1All();

    /// <summary>TLBI VMALLS12E1IS: every stage-1 and stage-2 entry of the VMID.</summary>
    void InvalidateVmid();
}
