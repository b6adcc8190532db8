using BenchmarkDotNet.Attributes;
using Stage2Lab.Simulation.Fuzzing;

namespace Stage2Lab.Benchmarks;

/// <summary>
/// A fuzz campaign as `s2lab fuzz --policy v6.18 --layout ordinary --cases 2000 --jobs 1|2` runs it (seed 1: no
/// violation in these cases, about 51,000 checked events), per case. The allocated bytes per case are what the
/// workers' collections are made of: every gen0 collection stops every worker.
/// </summary>
[MemoryDiagnoser]
public class FuzzBenchmarks
{
    private const int Cases = 2000;

    [Params(1, 2)]
    public int Jobs { get; set; }

    [Benchmark(OperationsPerInvoke = Cases, Description = "Fuzzer.Run, v6.18 ordinary, 2,000 cases, per case")]
    public long Campaign()
    {
        FuzzReport report = Fuzzer.Run(new FuzzOptions { Policy = "v6.18", Layout = FuzzLayout.Ordinary, MaxEvents = 0, MaxCases = Cases, Jobs = Jobs });
        if (report.Finding is not null)
            throw new InvalidOperationException("the benchmark's cases are expected to find nothing");
        return report.Events;
    }
}
