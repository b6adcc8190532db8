namespace Stage2Lab.Simulation.Tlb;

/// <summary>
/// The TLB maintenance KVM issues, applied to the model's arrays (Arm ARM, "TLB maintenance instructions"): an
/// invalidation by IPA removes stage-2-only entries (IPA→PA and stage-2 table entries) and is not required to
/// touch combined VA→PA entries; that is why __kvm_tlb_flush_vmid_ipa follows it with VMALLE1IS, which removes
/// every stage-1 and combined entry of the VMID. VMALLS12E1IS removes everything. The level hint is not used to
/// narrow: KVM passes the level of the entry it removed, and the model never holds a stale entry of another size.
/// </summary>
public sealed partial class GuestTlbModel
{
    public void InvalidateStage2Ipa(ulong ipa, int levelHint)
    {
        _stage2Leaves.Forget();
        _counters.Add(TlbStat.L2FlushTlb);
        _counters.Add(TlbStat.L2FlushedEntries, _l2.RemoveCovering(ipa, Stage2Kinds));
    }

    public void InvalidateStage2Range(ulong ipa, ulong sizeBytes)
    {
        _stage2Leaves.Forget();
        _counters.Add(TlbStat.L2FlushTlb);
        _counters.Add(TlbStat.L2FlushedEntries, _l2.RemoveOverlapping(ipa, sizeBytes, Stage2Kinds));
    }

    public void InvalidateStage1All()
    {
        FlushL1s();
        _counters.Add(TlbStat.L2FlushTlb);
        _counters.Add(TlbStat.L2FlushedEntries, _l2.RemoveKinds(Stage1Kinds));
    }

    public void InvalidateVmid()
    {
        _stage2Leaves.Forget();
        FlushL1s();
        _counters.Add(TlbStat.L2FlushTlb);
        _counters.Add(TlbStat.L2FlushedEntries, _l2.RemoveKinds(AllKinds));
    }

    /// <summary>The L1s hold only combined entries: every stage-1 invalidation empties them.</summary>
    private void FlushL1s()
    {
        _counters.Add(TlbStat.ItbFlushTlb);
        _counters.Add(TlbStat.ItbFlushedEntries, _itb.RemoveAll());
        _counters.Add(TlbStat.DtbFlushTlb);
        _counters.Add(TlbStat.DtbFlushedEntries, _dtb.RemoveAll());
    }
}
