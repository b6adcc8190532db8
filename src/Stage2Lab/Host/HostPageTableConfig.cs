using Stage2Lab.Arch;

namespace Stage2Lab.Host;

/// <summary>
/// The host's own page-table geometry, which decides the "huge" sizes the fault path talks about:
/// PMD_SIZE, PUD_SIZE, CONT_PTE and CONT_PMD sizes (arch/arm64/include/asm/pgtable-hwdef.h), and whether the
/// PMD level is folded away (__PAGETABLE_PMD_FOLDED: 2-level configurations such as 16K/36-bit, 64K/42-bit).
/// </summary>
public sealed class HostPageTableConfig
{
    public HostPageTableConfig(Granule granule, int vaBits = 48)
    {
        if (vaBits < 36 || vaBits > 52)
            throw new ArgumentOutOfRangeException(nameof(vaBits), vaBits, "VA bits must be 36..52");
        Granule = granule;
        VaBits = vaBits;
        // ARM64_HW_PGTABLE_LEVELS(va_bits) = (va_bits - 4) / (PAGE_SHIFT - 3)
        Levels = (vaBits - 4) / granule.BitsPerLevel;
        PmdFolded = Levels < 3;
        PmdShift = granule.LevelShift(2);
        // A folded PUD takes the PGD's size (PUD_SHIFT = PGDIR_SHIFT); with 3+ levels that is level 1.
        PudShift = PmdFolded ? PmdShift : granule.LevelShift(1);
        // CONT_PTES / CONT_PMDS (asm/pgtable-hwdef.h): 16/16 with 4K, 128/32 with 16K, 32/32 with 64K.
        ContPteShift = granule.PageShift + (granule.PageShift switch { 12 => 4, 14 => 7, _ => 5 });
        ContPmdShift = PmdShift + (granule.PageShift switch { 12 => 4, _ => 5 });
    }

    public Granule Granule { get; }

    public int VaBits { get; }

    public int Levels { get; }

    /// <summary>__PAGETABLE_PMD_FOLDED: no separate PMD level, so the fault path makes no PUD check.</summary>
    public bool PmdFolded { get; }

    public int PageShift => Granule.PageShift;

    public ulong PageSize => Granule.PageSize;

    public int PmdShift { get; }

    public int PudShift { get; }

    public int ContPteShift { get; }

    public int ContPmdShift { get; }

    public ulong PmdSize => 1UL << PmdShift;

    public ulong PudSize => 1UL << PudShift;

    public ulong ContPteSize => 1UL << ContPteShift;

    public ulong ContPmdSize => 1UL << ContPmdShift;

    /// <summary>
    /// The hugetlbfs page sizes this granule offers (arm64 arch_hugetlb_valid_size): CONT_PTE, PMD, CONT_PMD,
    /// and PUD only with 4K pages.
    /// </summary>
    public IReadOnlyList<ulong> HugetlbSizes => Granule.PageShift == 12
        ? [ContPteSize, PmdSize, ContPmdSize, PudSize]
        : [ContPteSize, PmdSize, ContPmdSize];

    public bool IsHugetlbSize(ulong sizeBytes)
    {
        foreach (ulong size in HugetlbSizes)
        {
            if (size == sizeBytes)
                return true;
        }
        return false;
    }
}
