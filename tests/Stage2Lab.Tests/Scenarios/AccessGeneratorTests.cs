using Stage2Lab.Arch;
using Stage2Lab.Simulation.Scenarios;
using Stage2Lab.Simulation.Workloads;

namespace Stage2Lab.Tests.Scenarios;

public class AccessGeneratorTests
{
    private static List<(ulong Ipa, AccessKind Kind)> All(WorkloadEvent w)
    {
        var gen = new AccessGenerator(w, Granule.Size4K);
        var list = new List<(ulong, AccessKind)>();
        while (gen.Next(out ulong ipa, out AccessKind kind))
            list.Add((ipa, kind));
        return list;
    }

    [Fact]
    public void A_sequential_sweep_makes_one_pass_by_default()
    {
        var accesses = All(new WorkloadEvent { Pattern = WorkloadPattern.Sequential, Ipa = 0x1000_0000, SizeBytes = 1 << 20, StrideBytes = 64 << 10 });
        Assert.Equal(16, accesses.Count);
        Assert.Equal(0x1000_0000UL, accesses[0].Ipa);
        Assert.Equal(0x1000_0000UL + (15 << 16), accesses[^1].Ipa);
    }

    [Fact]
    public void Random_accesses_stay_in_range_follow_the_mix_and_repeat_per_seed()
    {
        var w = new WorkloadEvent { Pattern = WorkloadPattern.Random, Ipa = 0x4000_0000, SizeBytes = 16 << 20, Count = 20_000, Seed = 42, ReadPercent = 50, WritePercent = 30, ExecPercent = 20 };
        var a = All(w);
        Assert.Equal(a, All(w));
        Assert.All(a, x => Assert.InRange(x.Ipa, 0x4000_0000UL, 0x4000_0000UL + (16 << 20) - 1));
        double writes = a.Count(x => x.Kind == AccessKind.Write) / (double)a.Count;
        double execs = a.Count(x => x.Kind == AccessKind.Exec) / (double)a.Count;
        Assert.InRange(writes, 0.27, 0.33);
        Assert.InRange(execs, 0.17, 0.23);
        Assert.NotEqual(a, All(new WorkloadEvent { Pattern = WorkloadPattern.Random, Ipa = 0x4000_0000, SizeBytes = 16 << 20, Count = 20_000, Seed = 43 }));
    }

    [Fact]
    public void Zipf_concentrates_accesses_on_hot_pages()
    {
        var w = new WorkloadEvent { Pattern = WorkloadPattern.Zipf, Ipa = 0, SizeBytes = 1 << 30, Count = 50_000, Seed = 1, Skew = 1.2, ZipfBuckets = 1024 };
        var pages = All(w).GroupBy(x => x.Ipa >> 20).Select(g => g.Count()).OrderByDescending(n => n).ToList();
        // The hottest MiB gets far more than a uniform share (50,000 / 1,024 ≈ 49).
        Assert.True(pages[0] > 10 * 49, $"hottest MiB got {pages[0]}");
    }

    [Fact]
    public void A_strided_sweep_moves_to_the_next_page_on_each_pass()
    {
        var a = All(new WorkloadEvent { Pattern = WorkloadPattern.Strided, Ipa = 0, SizeBytes = 64 << 10, StrideBytes = 16 << 10, Count = 8 });
        Assert.Equal([0UL, 0x4000, 0x8000, 0xc000, 0x1000, 0x5000, 0x9000, 0xd000], a.Select(x => x.Ipa));
    }
}
