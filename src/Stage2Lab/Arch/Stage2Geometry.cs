namespace Stage2Lab.Arch;

/// <summary>
/// The shape of a stage-2 table for one granule and IPA size: levels, start level and the number of
/// concatenated root pages (kvm_get_vtcr and stage2_pgtable_levels in v6.19 pgtable.c/stage2_pgtable.h;
/// kvm_pgd_pages in pgtable.c).
/// </summary>
public readonly record struct Stage2Geometry
{
    public const int MinIpaBits = 32;
    public const int MaxIpaBits = 48;

    public Stage2Geometry(Granule granule, int ipaBits)
    {
        if (ipaBits < MinIpaBits || ipaBits > MaxIpaBits)
            throw new ArgumentOutOfRangeException(nameof(ipaBits), ipaBits, $"IPA size must be {MinIpaBits}..{MaxIpaBits} bits");

        Granule = granule;
        IpaBits = ipaBits;
        // stage2_pgtable_levels(ipa) = ARM64_HW_PGTABLE_LEVELS(ipa - 4): up to 16 concatenated root
        // tables resolve 4 extra bits; kvm_get_vtcr uses at least 2 levels.
        int levels = (ipaBits - 4 - 4) / granule.BitsPerLevel;
        Levels = Math.Max(2, levels);
        StartLevel = 4 - Levels;
        // kvm_pgd_pages: ((BIT(ia_bits) - 1) >> kvm_granule_shift(start_level - 1)) + 1.
        int rootShift = granule.LevelShift(StartLevel - 1);
        ulong top = IpaLimit - 1;
        RootPages = rootShift >= 64 ? 1 : (int)(top >> rootShift) + 1;
    }

    public Granule Granule { get; }

    public int IpaBits { get; }

    public int Levels { get; }

    public int StartLevel { get; }

    /// <summary>Root table pages concatenated at the start level (1..16).</summary>
    public int RootPages { get; }

    /// <summary>BIT(ia_bits): the first IPA the table cannot translate.</summary>
    public ulong IpaLimit => 1UL << IpaBits;

    /// <summary>kvm_pgd_page_idx: which concatenated root page translates <paramref name="ipa"/>.</summary>
    public int RootPageIndex(ulong ipa)
    {
        int shift = Granule.LevelShift(StartLevel - 1);
        return shift >= 64 ? 0 : (int)((ipa & (IpaLimit - 1)) >> shift);
    }

}
