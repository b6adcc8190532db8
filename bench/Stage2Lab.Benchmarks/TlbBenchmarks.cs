using BenchmarkDotNet.Attributes;
using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Scenarios;
using Stage2Lab.Simulation.Tlb;
using Stage2Lab.Simulation.Workloads;
using static Stage2Lab.Benchmarks.Workloads;

namespace Stage2Lab.Benchmarks;

/// <summary>
/// The guest TLB model of issue 10 (neoverse-n1 profile, default guest: 4K pages at VA = IPA) on a v6.18 VM with
/// 1 GiB of RAM fully faulted in, as 4K stage-2 pages (no THP) or 2M blocks (THP). Per guest access:
/// the model alone (OnAccessIpa) on working sets that stay in the L1 DTLB, in the L2, or that walk on almost
/// every access; and the VM's own access path plus the model, as a timeline player will call them.
/// </summary>
[MemoryDiagnoser]
public class TlbBenchmarks
{
    private const int Accesses = 1 << 20;

    private KvmVm _pagesVm = null!;
    private KvmVm _thpVm = null!;
    private GuestTlbModel _pagesModel = null!;
    private GuestTlbModel _thpModel = null!;
    private ulong[] _l1Set = null!;
    private ulong[] _l2Set = null!;
    private ulong[] _wide = null!;
    private ulong[] _zipf = null!;

    [GlobalSetup]
    public void Setup()
    {
        _pagesVm = Populated(thp: false);
        _thpVm = Populated(thp: true);
        _pagesModel = NewModel(_pagesVm);
        _thpModel = NewModel(_thpVm);
        _l1Set = RandomIpas(Accesses, GuestIpa, 32 * 4 * KiB, Seed + 10);        // 32 pages: DTLB hits
        _l2Set = RandomIpas(Accesses, GuestIpa, 1024 * 4 * KiB, Seed + 11);      // 1,024 pages: L2 hits
        _wide = RandomIpas(Accesses, GuestIpa, GiB, Seed + 12);                  // 262,144 pages: walks
        _zipf = ZipfIpas();
    }

    /// <summary>The examples' hot/cold workload (zipf, skew 1.1, 4,096 buckets) over the GiB, as the scenario runner generates it.</summary>
    private static ulong[] ZipfIpas()
    {
        var w = new WorkloadEvent { Pattern = WorkloadPattern.Zipf, Ipa = GuestIpa, SizeBytes = GiB, Count = Accesses, Skew = 1.1, Seed = 3, ZipfBuckets = 4096, ReadPercent = 100 };
        var gen = new AccessGenerator(w, Granule.Size4K);
        var ipas = new ulong[Accesses];
        for (int i = 0; i < ipas.Length && gen.Next(out ulong ipa, out _); i++)
            ipas[i] = ipa;
        return ipas;
    }

    private static KvmVm Populated(bool thp)
    {
        KvmVm vm = NewRamVm(GiB, thp);
        for (ulong ipa = GuestIpa; ipa < GuestIpa + GiB; ipa += 4 * KiB)
            vm.Access(ipa, AccessKind.Write);
        return vm;
    }

    private static GuestTlbModel NewModel(KvmVm vm) =>
        new(TlbProfiles.NeoverseN1, GuestStage1.Identity(Granule.Size4K, 48, [(GuestIpa, GiB)], 40), vm.Stage2);

    private static long Run(GuestTlbModel model, ulong[] ipas)
    {
        foreach (ulong ipa in ipas)
            model.OnAccessIpa(ipa, AccessKind.Read);
        return model.Counters[TlbStat.Walks];
    }

    [Benchmark(OperationsPerInvoke = Accesses, Description = "model: 32-page working set (DTLB hits), per access")]
    public long L1Hits() => Run(_pagesModel, _l1Set);

    [Benchmark(OperationsPerInvoke = Accesses, Description = "model: 1,024-page working set (L2 hits), per access")]
    public long L2Hits() => Run(_pagesModel, _l2Set);

    [Benchmark(OperationsPerInvoke = Accesses, Description = "model: random over 1 GiB, 4K stage-2 pages (walks), per access")]
    public long WalksOnPages() => Run(_pagesModel, _wide);

    [Benchmark(OperationsPerInvoke = Accesses, Description = "model: random over 1 GiB, 2M stage-2 blocks (walks), per access")]
    public long WalksOnBlocks() => Run(_thpModel, _wide);

    [Benchmark(OperationsPerInvoke = Accesses, Description = "VM access + model: random over 1 GiB, 4K stage-2 pages, per access")]
    public long VmAndModelOnPages()
    {
        foreach (ulong ipa in _wide)
        {
            _pagesVm.Access(ipa, AccessKind.Read);
            _pagesModel.OnAccessIpa(ipa, AccessKind.Read);
        }
        return _pagesModel.Counters[TlbStat.Walks];
    }

    [Benchmark(OperationsPerInvoke = Accesses, Description = "VM access + model: zipf over 1 GiB, 2M stage-2 blocks, per access")]
    public long VmAndModelZipfOnBlocks()
    {
        foreach (ulong ipa in _zipf)
        {
            _thpVm.Access(ipa, AccessKind.Read);
            _thpModel.OnAccessIpa(ipa, AccessKind.Read);
        }
        return _thpModel.Counters[TlbStat.Walks];
    }

    [Benchmark(OperationsPerInvoke = Accesses, Description = "VM access alone: random over 1 GiB, 4K stage-2 pages, per access")]
    public long VmAloneOnPages()
    {
        foreach (ulong ipa in _wide)
            _pagesVm.Access(ipa, AccessKind.Read);
        return _pagesVm.Counters.Hits;
    }
}
