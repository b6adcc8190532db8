using Stage2Lab.Arch;

namespace Stage2Lab.Simulation.Tlb;

/// <summary>How the guest kernel maps a region at stage 1: the level of its leaves and whether it sets the
/// contiguous hint (arch/arm64/include/asm/pgtable-hwdef.h, CONT_PTES / CONT_PMDS).</summary>
public enum GuestMapping : byte
{
    /// <summary>Last-level pages (PTEs): the default, a guest without THP.</summary>
    Pages,
    /// <summary>Pages with the contiguous bit set on each aligned run of CONT_PTES entries.</summary>
    Contiguous,
    /// <summary>PMD-size blocks (2M with 4K pages, 32M with 16K, 512M with 64K): THP or PMD hugetlb.</summary>
    Thp,
    /// <summary>PMD blocks with the contiguous bit (CONT_PMDS of them: 32M, 1G, 16G).</summary>
    ContiguousThp,
    /// <summary>Level-1 (PUD) blocks of 1G: 4K granule only (16K/64K level-1 blocks need FEAT_LPA2).</summary>
    Block1G,
}

public static class GuestMappingExtensions
{
    /// <summary>The words a scenario uses, in <see cref="GuestMapping"/> order.</summary>
    public static readonly string[] Names = ["pages", "contiguous", "thp", "contiguous-thp", "1G"];

    public static string Name(this GuestMapping mapping) => Names[(int)mapping];

    public static bool TryParse(string text, out GuestMapping mapping)
    {
        int i = Array.IndexOf(Names, text);
        mapping = i < 0 ? GuestMapping.Pages : (GuestMapping)i;
        return i >= 0;
    }

    /// <summary>The stage-1 level holding the leaf: 3 for pages, 2 for PMD blocks, 1 for 1G blocks.</summary>
    public static int LeafLevel(this GuestMapping mapping) => mapping switch
    {
        GuestMapping.Pages or GuestMapping.Contiguous => Granule.LastLevel,
        GuestMapping.Thp or GuestMapping.ContiguousThp => Granule.LastLevel - 1,
        _ => Granule.LastLevel - 2,
    };

    /// <summary>
    /// How many leaves one contiguous hint spans: CONFIG_ARM64_CONT_PTE_SHIFT (4/7/5 for 4K/16K/64K, so 16/128/32
    /// PTEs) and CONFIG_ARM64_CONT_PMD_SHIFT (4/5/5, so 16/32/32 PMDs), arch/arm64/Kconfig. 1 without the hint.
    /// </summary>
    public static int ContiguousEntries(this GuestMapping mapping, Granule granule) => mapping switch
    {
        GuestMapping.Contiguous => granule.PageShift switch { 12 => 16, 14 => 128, _ => 32 },
        GuestMapping.ContiguousThp => granule.PageShift switch { 12 => 16, _ => 32 },
        _ => 1,
    };

    /// <summary>log2 of the span one TLB entry may cover for this mapping (the leaf size times the contiguous run).</summary>
    public static int EntryShift(this GuestMapping mapping, Granule granule) =>
        granule.LevelShift(mapping.LeafLevel()) + System.Numerics.BitOperations.Log2((uint)mapping.ContiguousEntries(granule));

    /// <summary>Whether the architecture lets this granule hold such a leaf without FEAT_LPA2.</summary>
    public static bool IsValidFor(this GuestMapping mapping, Granule granule) =>
        mapping != GuestMapping.Block1G || granule.PageShift == 12;
}
