namespace Stage2Lab.PageTables;

/// <summary>
/// The page-table API semantics a fault path was written against. The structure of the table is the same
/// in every kernel since 5.10; what changed is how a leaf that already exists is treated.
/// </summary>
public enum Stage2ApiRevision
{
    /// <summary>
    /// v6.19 pgtable.c: stage2_pte_needs_update skips permission-only changes with -EAGAIN, and
    /// kvm_pgtable_stage2_relax_perms sets execute exactly from prot (FEAT_XNX era).
    /// </summary>
    Current,

    /// <summary>
    /// 5.12–5.15 pgtable.c: permission-only changes return -EAGAIN as now, but relax_perms only ever adds
    /// R, W and X (it clears XN only when X is asked for).
    /// </summary>
    V5_12,

    /// <summary>
    /// The 5.10-rc1 fault path as the kernel-generated goldens run it, over the current pgtable.c: its map
    /// calls carry no fault-walk flag, so a permission-only change of an existing leaf is skipped and the call
    /// succeeds (the leaf is left as it is) — except the leaf at the call's own IPA, which is replaced as
    /// 5.10-rc1's kvm_set_valid_leaf_pte replaced any differing leaf; relax_perms only adds permissions.
    /// </summary>
    V5_10,
}
