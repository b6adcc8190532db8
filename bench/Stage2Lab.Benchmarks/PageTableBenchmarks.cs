using BenchmarkDotNet.Attributes;
using Stage2Lab.Arch;
using Stage2Lab.PageTables;
using static Stage2Lab.Benchmarks.Workloads;

namespace Stage2Lab.Benchmarks;

/// <summary>
/// The page-table library alone (issue 2, "Speed and memory"): map then unmap 1 GiB as 4K pages (one map call
/// per page, as kvm_phys_addr_ioremap), as 2M blocks and as one 1G block; translate 1M random IPAs. Results are
/// per operation: a map call (the unmap of the GiB that follows is included in its share), a translation.
/// </summary>
[MemoryDiagnoser]
public class PageTableBenchmarks
{
    private const int Pages4K = (int)(GiB / (4 * KiB));
    private const int Blocks2M = (int)(GiB / (2 * MiB));
    private const int TranslateCount = 1 << 20;

    private Stage2PageTable _scratch = null!;
    private Stage2PageTable _populated4K = null!;
    private Stage2PageTable _populated2M = null!;
    private MemoryCache _cache = null!;
    private ulong[] _ipas = null!;
    private ulong[] _ipas16G = null!;

    [GlobalSetup]
    public void Setup()
    {
        _cache = MemoryCache.Unbounded();
        _scratch = NewTable();
        // One warm round, so the pool holds its table pages and the measured rounds reuse them.
        MapInSteps(_scratch, _cache, GuestIpa, GiB, MapPa, 4 * KiB);
        _scratch.Unmap(GuestIpa, GiB);

        _populated4K = NewTable();
        MapInSteps(_populated4K, _cache, GuestIpa, GiB, MapPa, 4 * KiB);
        _ipas = RandomIpas(TranslateCount, GuestIpa, GiB);

        _populated2M = NewTable();
        MapInSteps(_populated2M, _cache, GuestIpa, 16 * GiB, MapPa, 2 * MiB);
        _ipas16G = RandomIpas(TranslateCount, GuestIpa, 16 * GiB);

        Console.WriteLine("// " + MeasureTableMemory());
    }

    [Benchmark(OperationsPerInvoke = Pages4K, Description = "map 1 GiB as 4K pages (+unmap), per map")]
    public long MapUnmap4K()
    {
        MapInSteps(_scratch, _cache, GuestIpa, GiB, MapPa, 4 * KiB);
        _scratch.Unmap(GuestIpa, GiB);
        return _scratch.LiveTablePagesTotal;
    }

    [Benchmark(OperationsPerInvoke = Blocks2M, Description = "map 1 GiB as 2M blocks (+unmap), per map")]
    public long MapUnmap2M()
    {
        MapInSteps(_scratch, _cache, GuestIpa, GiB, MapPa, 2 * MiB);
        _scratch.Unmap(GuestIpa, GiB);
        return _scratch.LiveTablePagesTotal;
    }

    [Benchmark(OperationsPerInvoke = 1, Description = "map 1 GiB as one 1G block (+unmap)")]
    public long MapUnmap1G()
    {
        MapInSteps(_scratch, _cache, GuestIpa, GiB, MapPa, GiB);
        _scratch.Unmap(GuestIpa, GiB);
        return _scratch.LiveTablePagesTotal;
    }

    [Benchmark(OperationsPerInvoke = TranslateCount, Description = "translate, 1 GiB of 4K pages, per IPA")]
    public ulong Translate4K() => TranslateAll(_populated4K, _ipas);

    [Benchmark(OperationsPerInvoke = TranslateCount, Description = "translate, 16 GiB of 2M blocks, per IPA")]
    public ulong Translate2M() => TranslateAll(_populated2M, _ipas16G);

    private static ulong TranslateAll(Stage2PageTable pgt, ulong[] ipas)
    {
        ulong sum = 0;
        foreach (ulong ipa in ipas)
            sum += pgt.Translate(ipa, AccessKind.Read).Pa;
        return sum;
    }
}
