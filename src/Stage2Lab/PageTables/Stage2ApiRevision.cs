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
    /// 5.10-rc1 pgtable.c: kvm_set_valid_leaf_pte tolerates an identical leaf and replaces any other valid
    /// leaf through break-before-make (no -EAGAIN); relax_perms only adds permissions.
    /// </summary>
    V5_10,
}
