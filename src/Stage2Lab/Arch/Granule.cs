namespace Stage2Lab.Arch;

/// <summary>
/// A translation granule (the host PAGE_SIZE, which KVM also uses for stage 2).
/// Level arithmetic follows ARM64_HW_PGTABLE_LEVEL_SHIFT (arch/arm64/include/asm/pgtable-hwdef.h).
/// </summary>
public readonly struct Granule : IEquatable<Granule>
{
    /// <summary>The last (page) level: KVM_PGTABLE_LAST_LEVEL.</summary>
    public const int LastLevel = 3;

    public static readonly Granule Size4K = new(12);
    public static readonly Granule Size16K = new(14);
    public static readonly Granule Size64K = new(16);

    private Granule(int pageShift) => PageShift = pageShift;

    /// <summary>PAGE_SHIFT: 12, 14 or 16.</summary>
    public int PageShift { get; }

    public ulong PageSize => 1UL << PageShift;

    public ulong PageMask => ~(PageSize - 1);

    /// <summary>Bits resolved per level: PAGE_SHIFT - 3 (8-byte descriptors).</summary>
    public int BitsPerLevel => PageShift - 3;

    /// <summary>PTRS_PER_PTE: 512, 2048 or 8192 entries in a table page.</summary>
    public int EntriesPerTable => 1 << BitsPerLevel;

    /// <summary>
    /// KVM_PGTABLE_MIN_BLOCK_LEVEL (kvm_pgtable.h, without LPA2): level 1 blocks only with 4K pages.
    /// </summary>
    public int MinBlockLevel => PageShift == 12 ? 1 : 2;

    /// <summary>kvm_granule_shift(level) = ARM64_HW_PGTABLE_LEVEL_SHIFT(level).</summary>
    public int LevelShift(int level) => BitsPerLevel * (4 - level) + 3;

    /// <summary>kvm_granule_size(level): the span of one entry at that level.</summary>
    public ulong LevelSize(int level)
    {
        int shift = LevelShift(level);
        return shift >= 64 ? 0 : 1UL << shift;
    }

    /// <summary>kvm_level_supports_block_mapping (kvm_pgtable.h): a leaf may stand at this level.</summary>
    public bool LevelSupportsLeaf(int level) => level >= MinBlockLevel && level <= LastLevel;

    /// <summary>The index of <paramref name="addr"/> in a table at <paramref name="level"/> (kvm_pgtable_idx).</summary>
    public int IndexAt(ulong addr, int level) => (int)((addr >> LevelShift(level)) & (ulong)(EntriesPerTable - 1));

    /// <summary>"4K", "16K" or "64K".</summary>
    public string Name => PageShift switch { 12 => "4K", 14 => "16K", _ => "64K" };

    public static bool TryParse(string text, out Granule granule)
    {
        switch (text.Trim().ToUpperInvariant())
        {
            case "4K": case "4096": granule = Size4K; return true;
            case "16K": case "16384": granule = Size16K; return true;
            case "64K": case "65536": granule = Size64K; return true;
            default: granule = Size4K; return false;
        }
    }

    /// <summary>The level whose entries span exactly <paramref name="sizeBytes"/>, or -1.</summary>
    public int LevelOfSize(ulong sizeBytes)
    {
        for (int level = 0; level <= LastLevel; level++)
        {
            if (LevelSize(level) == sizeBytes)
                return level;
        }
        return -1;
    }

    public static Granule FromPageShift(int pageShift) => pageShift switch
    {
        12 => Size4K,
        14 => Size16K,
        16 => Size64K,
        _ => throw new ArgumentOutOfRangeException(nameof(pageShift), pageShift, "PAGE_SHIFT must be 12, 14 or 16"),
    };

    public bool Equals(Granule other) => PageShift == other.PageShift;

    public override bool Equals(object? obj) => obj is Granule other && Equals(other);

    public override int GetHashCode() => PageShift;

    public static bool operator ==(Granule left, Granule right) => left.Equals(right);

    public static bool operator !=(Granule left, Granule right) => !left.Equals(right);

    public override string ToString() => Name;
}
