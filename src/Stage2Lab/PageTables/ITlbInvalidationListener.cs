namespace Stage2Lab.PageTables;

/// <summary>
/// Sees every stage-2 TLB invalidation a <see cref="Stage2PageTable"/> issues, with its architectural scope, so a
/// model of the guest's TLBs can drop exactly the entries each one covers. Each stage-2 invalidation KVM issues is
/// followed by (or is) one that drops the VMID's stage-1 and combined entries too (VMALLE1/VMALLE1IS,
/// VMALLS12E1IS), which the callbacks include.
/// </summary>
public interface ITlbInvalidationListener
{
    /// <summary>TLBI IPAS2E1(IS) of the page holding <paramref name="ipa"/> (with a level hint, or -1), then VMALLE1(IS).</summary>
    void OnInvalidateIpa(ulong ipa, int level);

    /// <summary>TLBI RIPAS2E1IS over [ipa, ipa + sizeBytes) (FEAT_TLBIRANGE), then VMALLE1IS.</summary>
    void OnInvalidateRange(ulong ipa, ulong sizeBytes);

    /// <summary>TLBI VMALLS12E1IS: every stage-1 and stage-2 entry of the VMID.</summary>
    void OnInvalidateVmid();
}
