using Stage2Lab.Arch;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Workloads;

/// <summary>
/// Everything a generated workload's accesses depend on: two workloads with equal keys make the same accesses in
/// the same order (the generator reads nothing else), whichever scenario object or run they belong to.
/// </summary>
internal readonly record struct AccessStreamKey(
    WorkloadPattern Pattern,
    ulong Ipa,
    ulong SizeBytes,
    ulong StrideBytes,
    ulong Accesses,
    ulong Seed,
    int ReadPercent,
    int WritePercent,
    double Skew,
    ulong ZipfBuckets,
    ulong PageSizeBytes)
{
    public static AccessStreamKey Of(WorkloadEvent w, Granule granule) => new(
        w.Pattern, w.Ipa, w.SizeBytes, w.StrideBytes, w.AccessCount(granule), w.Seed, w.ReadPercent, w.WritePercent,
        // The skew and the buckets only matter to a Zipf workload: other patterns with different (unused)
        // values are the same stream.
        w.Pattern == WorkloadPattern.Zipf ? w.Skew : 0, w.Pattern == WorkloadPattern.Zipf ? w.ZipfBuckets : 0,
        granule.PageSize);
}
