using Stage2Lab.Arch;
using Stage2Lab.Simulation.Scenarios;
using Stage2Lab.Simulation.Workloads;

namespace Stage2Lab.Tests.Scenarios;

/// <summary>
/// Workloads drawn once and replayed (compare, sweep, advise): a replayed stream is exactly what the generator
/// makes, equal workloads share one stream whatever object describes them, and the cache keeps to its bound.
/// </summary>
public class AccessStreamCacheTests
{
    private static WorkloadEvent Zipf(ulong seed = 3, ulong count = 50_000) => new()
    {
        Pattern = WorkloadPattern.Zipf,
        Ipa = 0x4000_0000,
        SizeBytes = 1UL << 30,
        Count = count,
        Seed = seed,
        Skew = 1.1,
        ReadPercent = 70,
        WritePercent = 30,
    };

    private static WorkloadEvent Random(ulong seed = 7, ulong count = 50_000) => new()
    {
        Pattern = WorkloadPattern.Random,
        Ipa = 0x80_0000_0000,
        SizeBytes = 32UL << 30,
        Count = count,
        Seed = seed,
        ReadPercent = 30,
        WritePercent = 60,
        ExecPercent = 10,
    };

    private static (ulong[] Ipas, AccessKind[] Kinds) Generated(WorkloadEvent w, Granule g)
    {
        var gen = new AccessGenerator(w, g);
        var ipas = new List<ulong>();
        var kinds = new List<AccessKind>();
        while (gen.Next(out ulong ipa, out AccessKind kind))
        {
            ipas.Add(ipa);
            kinds.Add(kind);
        }
        return ([.. ipas], [.. kinds]);
    }

    public static TheoryData<string> Patterns => new() { "zipf", "random" };

    [Theory]
    [MemberData(nameof(Patterns))]
    public void A_stream_is_what_the_generator_draws(string pattern)
    {
        foreach (Granule g in new[] { Granule.Size4K, Granule.Size16K, Granule.Size64K })
        {
            WorkloadEvent w = pattern == "zipf" ? Zipf() : Random();
            AccessStream stream = new AccessStreamCache().Get(w, g)!;
            var (ipas, kinds) = Generated(w, g);
            Assert.Equal(ipas, stream.Ipas.ToArray());
            Assert.Equal(kinds, stream.Kinds.ToArray());
        }
    }

    [Fact]
    public void Equal_workloads_share_a_stream_and_different_ones_do_not()
    {
        var cache = new AccessStreamCache();
        AccessStream a = cache.Get(Zipf(), Granule.Size4K)!;
        Assert.Same(a, cache.Get(Zipf(), Granule.Size4K));
        Assert.NotSame(a, cache.Get(Zipf(seed: 4), Granule.Size4K));
        Assert.NotSame(a, cache.Get(Zipf(), Granule.Size16K));
        WorkloadEvent moved = Zipf();
        moved.Ipa += 1UL << 30;
        Assert.NotSame(a, cache.Get(moved, Granule.Size4K));
    }

    [Fact]
    public void Runs_on_many_threads_get_one_stream()
    {
        var cache = new AccessStreamCache();
        var got = new AccessStream?[8];
        Parallel.For(0, got.Length, i => got[i] = cache.Get(Random(), Granule.Size4K));
        Assert.All(got, s => Assert.Same(got[0], s));
    }

    [Fact]
    public void Short_workloads_and_sweeps_are_played_from_their_generator()
    {
        var cache = new AccessStreamCache();
        Assert.Null(cache.Get(Random(count: 100), Granule.Size4K));
        Assert.Null(cache.Get(new WorkloadEvent { Pattern = WorkloadPattern.Sequential, Ipa = 0, SizeBytes = 1UL << 30 }, Granule.Size4K));
    }

    [Fact]
    public void The_cache_keeps_to_its_bound_letting_the_least_recently_used_go()
    {
        // 25,000 accesses are 225,000 bytes: a 1 MiB cache keeps four.
        var cache = new AccessStreamCache(maxBytes: 1 << 20);
        AccessStream[] kept = [.. Enumerable.Range(1, 4).Select(seed => cache.Get(Random(seed: (ulong)seed, count: 25_000), Granule.Size4K)!)];
        Assert.Same(kept[0], cache.Get(Random(seed: 1, count: 25_000), Granule.Size4K)); // seed 1 is now the most recent
        cache.Get(Random(seed: 5, count: 25_000), Granule.Size4K); // lets seed 2 go
        Assert.Same(kept[0], cache.Get(Random(seed: 1, count: 25_000), Granule.Size4K));
        Assert.Same(kept[2], cache.Get(Random(seed: 3, count: 25_000), Granule.Size4K));
        Assert.NotSame(kept[1], cache.Get(Random(seed: 2, count: 25_000), Granule.Size4K));
        // A workload larger than a quarter of the bound is never kept.
        Assert.Null(cache.Get(Random(count: 30_000), Granule.Size4K));
    }
}
