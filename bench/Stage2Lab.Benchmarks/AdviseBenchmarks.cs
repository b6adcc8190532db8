using BenchmarkDotNet.Attributes;
using Stage2Lab.Simulation.Advice;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Benchmarks;

/// <summary>
/// `s2lab advise` (issue 14: the GPU example under five policies in under 10 s): examples/gpu-32g-bar-unaligned.yaml
/// under the five kernels (v5.13, seed-v3, v5.14, v6.18, v7.4: 5 runs as it is and 10 changes verified), with the
/// runs one at a time and one per core; the same under v6.18 alone; and, for scale, one run of the scenario with
/// its decisions recorded (what each policy's first run costs).
/// </summary>
[MemoryDiagnoser]
public class AdviseBenchmarks
{
    private static readonly string[] FiveKernels = ["v5.13", "seed-v3", "v5.14", "v6.18", "v7.4"];

    private Scenario _gpu = null!;

    [GlobalSetup]
    public void Setup()
    {
        string dir = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(dir, "Stage2Lab.slnx")))
            dir = Path.GetDirectoryName(dir) ?? throw new InvalidOperationException("Stage2Lab.slnx not found above " + AppContext.BaseDirectory);
        _gpu = ScenarioReader.Load(Path.Combine(dir, "examples", "gpu-32g-bar-unaligned.yaml"));
        AdviceResult check = Advise(FiveKernels, Environment.ProcessorCount);
        if (check.Suggestions.Count == 0 || check.Suggestions[0].Change.Kind != ChangeKind.AlignHva || check.Suggestions[0].After.Leaves[1] != 32)
            throw new InvalidOperationException("expected align-hva with 32 1G blocks first");
    }

    [Benchmark(Description = "advise gpu-32g-bar-unaligned, 5 kernels, one run per core")]
    public int FiveKernelsParallel() => Advise(FiveKernels, Environment.ProcessorCount).Runs;

    [Benchmark(Description = "advise gpu-32g-bar-unaligned, 5 kernels, one run at a time")]
    public int FiveKernelsSequential() => Advise(FiveKernels, 1).Runs;

    [Benchmark(Description = "advise gpu-32g-bar-unaligned, v6.18 only, one run per core")]
    public int V618Parallel() => Advise(["v6.18"], Environment.ProcessorCount).Runs;

    [Benchmark(Description = "one run of gpu-32g-bar-unaligned under v6.18 with decisions")]
    public int OneRunWithDecisions() => ScenarioRunner.Run(_gpu, "v6.18", new RunOptions { CaptureDecisions = true }).Decisions.Count;

    private AdviceResult Advise(string[] policies, int parallelism) =>
        Advisor.Advise(_gpu, new AdviceOptions { Policies = policies, MaxParallelism = parallelism });
}
