using Stage2Lab.Arch;

namespace Stage2Lab.Kvm;

/// <summary>One leaf of the L1 guest hypervisor's own stage 2 for its L2 guest: L2 IPA → L1 IPA, its size and rights.</summary>
public readonly record struct L1Stage2Mapping(ulong L2Ipa, ulong SizeBytes, ulong L1Ipa, Prot Perms)
{
    public ulong L2End => L2Ipa + SizeBytes;
}

/// <summary>
/// struct kvm_s2_trans: what kvm_walk_nested_s2 found for one L2 IPA in the L1 hypervisor's stage 2 — the output
/// (an L1 IPA, kvm_s2_trans_output), the size of the L1 leaf (kvm_s2_trans_size) and its permissions
/// (kvm_s2_trans_readable / writable / executable).
/// </summary>
public readonly record struct NestedTranslation(ulong L2Ipa, ulong OutputIpa, ulong BlockSizeBytes, Prot Perms)
{
    public bool Readable => (Perms & Prot.R) != 0;

    public bool Writable => (Perms & Prot.W) != 0;

    public bool Executable => (Perms & Prot.X) != 0;
}

/// <summary>
/// The L1 guest hypervisor's stage-2 tables for its L2 guest (what it points VTTBR_EL2 at), as the host reads
/// them in kvm_walk_nested_s2. The model keeps them fixed for a run: L1 does not change its tables (so no
/// TLBI from L1 is modelled). Leaves are sorted by L2 IPA and do not overlap.
/// </summary>
public sealed class GuestStage2
{
    private readonly L1Stage2Mapping[] _leaves;
    private readonly ulong[] _starts;

    /// <summary>Every size an arm64 stage-2 leaf can have, for any of the three granules (page, level-2, level-1 blocks).</summary>
    public static IReadOnlyList<ulong> LeafSizes { get; } =
        [4UL << 10, 16UL << 10, 64UL << 10, 2UL << 20, 32UL << 20, 512UL << 20, 1UL << 30, 64UL << 30, 4UL << 40];

    public GuestStage2(IEnumerable<L1Stage2Mapping> leaves, ulong hostPageSizeBytes)
    {
        _leaves = [.. leaves.OrderBy(l => l.L2Ipa)];
        for (int i = 0; i < _leaves.Length; i++)
        {
            if (Check(_leaves[i], hostPageSizeBytes) is { } problem)
                throw new ArgumentException(problem, nameof(leaves));
            if (i > 0 && _leaves[i - 1].L2End > _leaves[i].L2Ipa)
                throw new ArgumentException($"L1 stage-2 leaves at L2 IPA 0x{_leaves[i - 1].L2Ipa:x} and 0x{_leaves[i].L2Ipa:x} overlap", nameof(leaves));
        }
        _starts = [.. _leaves.Select(l => l.L2Ipa)];
    }

    public IReadOnlyList<L1Stage2Mapping> Leaves => _leaves;

    /// <summary>Why a leaf cannot be one of the L1 hypervisor's stage-2 leaves, or null when it can.</summary>
    public static string? Check(in L1Stage2Mapping leaf, ulong hostPageSizeBytes)
    {
        if (!LeafSizes.Contains(leaf.SizeBytes))
            return $"size 0x{leaf.SizeBytes:x} is not a stage-2 leaf size (4K, 16K, 64K, 2M, 32M, 512M, 1G, 64G, 4T)";
        if (leaf.SizeBytes < hostPageSizeBytes)
            return $"size 0x{leaf.SizeBytes:x} is below the host PAGE_SIZE 0x{hostPageSizeBytes:x}; the model needs L1 leaves of at least a host page";
        if ((leaf.L2Ipa & (leaf.SizeBytes - 1)) != 0 || (leaf.L1Ipa & (leaf.SizeBytes - 1)) != 0)
            return $"L2 IPA 0x{leaf.L2Ipa:x} and L1 IPA 0x{leaf.L1Ipa:x} must both be aligned to the leaf size 0x{leaf.SizeBytes:x}";
        if (leaf.L2Ipa + leaf.SizeBytes < leaf.L2Ipa || leaf.L1Ipa + leaf.SizeBytes < leaf.L1Ipa)
            return "the leaf wraps the address space";
        if ((leaf.Perms & Prot.R) == 0 && (leaf.Perms & (Prot.W | Prot.X)) != 0)
            return "a leaf that is writable or executable must be readable too";
        return null;
    }

    /// <summary>kvm_walk_nested_s2: the L1 leaf holding <paramref name="l2Ipa"/>; false is a fault L1 must handle.</summary>
    public bool TryWalk(ulong l2Ipa, out NestedTranslation trans)
    {
        int i = SortedStarts.LastAtOrBelow(_starts, l2Ipa);
        if (i >= 0 && l2Ipa - _leaves[i].L2Ipa < _leaves[i].SizeBytes)
        {
            L1Stage2Mapping leaf = _leaves[i];
            trans = new NestedTranslation(l2Ipa, leaf.L1Ipa + (l2Ipa - leaf.L2Ipa), leaf.SizeBytes, leaf.Perms);
            return true;
        }
        trans = default;
        return false;
    }
}
