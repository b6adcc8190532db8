using BenchmarkDotNet.Attributes;
using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Runs;
using static Stage2Lab.Benchmarks.Workloads;

namespace Stage2Lab.Benchmarks;

/// <summary>
/// The final IPA map of a run (MetricsRecorder.OnFinish, issue 14) over a 16 GiB BAR mapped page by page under
/// v5.13 (4,194,304 leaves in 8,192 last-level tables): one leaf at a time (Stage2PageTable.VisitLeaves, the
/// path before) against a last-level table at a time (VisitLeafBatches); the same runs either way.
/// </summary>
[MemoryDiagnoser]
public class FinalStateBenchmarks
{
    private KvmVm _vm = null!;

    [GlobalSetup]
    public void Setup() => _vm = NewBarVm(16 * GiB, "v5.13");

    [Benchmark(Baseline = true, Description = "16 GiB of 4K pages: final IPA map, leaf by leaf")]
    public int LeafByLeaf()
    {
        var final = new FinalState();
        var runs = new LeafRunBuilder(final, _vm.Features.Fwb);
        _vm.Stage2.VisitLeaves(ref runs);
        runs.Flush();
        return final.Runs.Count;
    }

    [Benchmark(Description = "16 GiB of 4K pages: final IPA map, a last-level table at a time")]
    public int TableAtATime()
    {
        var final = new FinalState();
        var runs = new LeafRunBuilder(final, _vm.Features.Fwb);
        _vm.Stage2.VisitLeafBatches(ref runs);
        runs.Flush();
        return final.Runs.Count;
    }
}
