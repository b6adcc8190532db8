namespace Stage2Lab.Simulation.Scripts;

/// <summary>
/// Bounds on the work one script may ask for, so that a hostile line cannot run for hours or exhaust memory
/// (issue 12). Beyond one, the line is refused as an input error (exit code 2) with the limit.
/// </summary>
public static class ScriptLimits
{
    /// <summary>
    /// Leaves a script may create one page at a time: `map` ranges whose PA is not congruent with the IPA at the
    /// smallest block size (s2ops), and slots whose VM_PFNMAP VMAs v5.9/v5.13 ioremap page by page (s2faults).
    /// About 100 ns and 8 bytes of table each: 2^28 (1 TiB of 4K pages) is half a minute and 2 GiB of tables.
    /// </summary>
    public const ulong MaxPagesMappedOneByOne = 1UL << 28;
}
