using BenchmarkDotNet.Attributes;
using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Scenarios;
using Stage2Lab.Simulation.Workloads;
using static Stage2Lab.Benchmarks.Workloads;

namespace Stage2Lab.Benchmarks;

/// <summary>
/// The hit path of a sweep run (issue 13): KvmVm.Access under v6.18 on 16 GiB of THP RAM faulted in as 2M
/// blocks, for the examples' hot/cold workload (zipf, skew 1.1, 4,096 buckets, 70% reads, as the scenario runner
/// generates it), with the memo of recent hits on (the default) and off (every access walks the table); and
/// AccessGenerator alone on the same workload. Per access.
/// </summary>
[MemoryDiagnoser]
public class HitPathBenchmarks
{
    private const int Accesses = 1 << 20;
    private const ulong RamBytes = 16 * GiB;

    private KvmVm _vm = null!;
    private WorkloadEvent _zipf = null!;
    private ulong[] _ipas = null!;
    private AccessKind[] _kinds = null!;

    [GlobalSetup]
    public void Setup()
    {
        _vm = NewRamVm(RamBytes, thp: true);
        for (ulong ipa = GuestIpa; ipa < GuestIpa + RamBytes; ipa += 2 * MiB)
            _vm.Access(ipa, AccessKind.Write);
        _zipf = new WorkloadEvent
        {
            Pattern = WorkloadPattern.Zipf,
            Ipa = GuestIpa,
            SizeBytes = RamBytes,
            Count = Accesses,
            Skew = 1.1,
            Seed = 3,
            ZipfBuckets = 4096,
            ReadPercent = 70,
            WritePercent = 30,
        };
        _ipas = new ulong[Accesses];
        _kinds = new AccessKind[Accesses];
        var gen = new AccessGenerator(_zipf, Granule.Size4K);
        for (int i = 0; i < Accesses && gen.Next(out ulong ipa, out AccessKind kind); i++)
            (_ipas[i], _kinds[i]) = (ipa, kind);
    }

    private long Play(bool memo)
    {
        KvmVm vm = _vm;
        vm.HitMemoEnabled = memo;
        long before = vm.Counters.Hits;
        ulong[] ipas = _ipas;
        AccessKind[] kinds = _kinds;
        for (int i = 0; i < ipas.Length; i++)
            vm.Access(ipas[i], kinds[i]);
        long hits = vm.Counters.Hits - before;
        if (hits != Accesses)
            throw new InvalidOperationException($"expected {Accesses} hits, got {hits}");
        return hits;
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Accesses, Description = "hit: zipf over 16 GiB of 2M blocks, memo off (walk), per access")]
    public long HitsWalked() => Play(memo: false);

    [Benchmark(OperationsPerInvoke = Accesses, Description = "hit: zipf over 16 GiB of 2M blocks, memo on, per access")]
    public long HitsMemo() => Play(memo: true);

    [Benchmark(OperationsPerInvoke = Accesses, Description = "AccessGenerator: zipf over 16 GiB, per access")]
    public ulong Generate()
    {
        var gen = new AccessGenerator(_zipf, Granule.Size4K);
        ulong sum = 0;
        while (gen.Next(out ulong ipa, out AccessKind kind))
            sum += ipa + (ulong)kind;
        return sum;
    }
}
