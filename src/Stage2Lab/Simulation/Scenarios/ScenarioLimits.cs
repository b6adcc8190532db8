namespace Stage2Lab.Simulation.Scenarios;

/// <summary>
/// Every limit a scenario, a trace or a run is held to (docs/scenario-format.md, "Limits"). Each keeps hostile
/// or absurd input from taking unbounded time, memory or stack; input beyond one is refused with exit code 2,
/// the file position and key path, and the limit.
/// </summary>
public static class ScenarioLimits
{
    /// <summary>A scenario file larger than this is refused before it is parsed (a real one is a few KiB).</summary>
    public const long MaxScenarioFileBytes = 16L << 20;

    /// <summary>
    /// YAML/JSON nesting depth. A scenario needs 5 levels (mappings → entry → pieces → piece); YamlDotNet's
    /// node loader recurses once per level, so tens of thousands of levels would overflow the stack.
    /// </summary>
    public const int MaxYamlDepth = 64;

    /// <summary>
    /// Physical addresses (RAM, devices, mapping PAs, pgoff, remapped pieces) must lie below 2^48. The model
    /// encodes the 48-bit output address of the descriptors KVM writes without LPA2 (stage2-model.md §1.3);
    /// the 52-bit forms (FEAT_LPA with 64K pages, FEAT_LPA2) are not modelled, so a higher PA would be
    /// truncated in the descriptor.
    /// </summary>
    public const int PaBits = 48;

    /// <summary>1 &lt;&lt; <see cref="PaBits"/>: the first physical address the model cannot encode.</summary>
    public const ulong PaLimit = 1UL << PaBits;

    /// <summary>Largest size or IPA range anywhere (2^52, the architectural maximum).</summary>
    public const ulong MaxSizeBytes = 1UL << 52;

    /// <summary>
    /// Guest accesses in one run (all workloads and trace lines together). About 3.2 s per 10^8 accesses per
    /// policy: 10^9 keeps one policy near half a minute and a compare of six policies within a few minutes.
    /// </summary>
    public const ulong MaxAccessesPerRun = 1_000_000_000;

    /// <summary>
    /// Pages v5.9 and v5.13 map one by one when slots are created (kvm_phys_addr_ioremap over VM_PFNMAP VMAs):
    /// about 0.85 µs each, so 2^27 (512 GiB of 4K pages) is about two minutes per policy.
    /// </summary>
    public const ulong MaxPagesMappedAtCreation = 1UL << 27;

    /// <summary>
    /// Stage-2 entries the timeline's range events may visit in one run, counted as an upper bound before it
    /// starts (<see cref="Runs.MemoryEstimator"/>): each dirty-log enable, age, zap, munmap, slot move or delete
    /// walks its range, at most the leaves the run can have made; each get/clear-dirty-log reads the slot's
    /// bitmap. About 1.6 ns per leaf (13 ms to write-protect 8,388,608 pages), so 2^34 is under half a minute,
    /// where a 16 MiB timeline of such events over a fully mapped 32 GiB slot would run for an hour.
    /// </summary>
    public const ulong MaxWalkVisitsPerRun = 1UL << 34;

    /// <summary>A trace line longer than this is refused (a real one is under 40 bytes).</summary>
    public const int MaxTraceLineBytes = 1024;

    /// <summary>Lines of a trace file (each access costs 16 bytes of memory while the run lasts).</summary>
    public const int MaxTraceLines = 1 << 24;

    /// <summary>Share of the memory available to the process (GC.GetGCMemoryInfo) a run may plan to use by default.</summary>
    public const double DefaultMemoryShare = 0.5;
}
