using BenchmarkDotNet.Attributes;
using Stage2Lab.PageTables;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Scenarios;
using Stage2Lab.Simulation.Workloads;

namespace Stage2Lab.Benchmarks;

/// <summary>
/// One run of a sweep point (issue 13: the 1,024-point sweep of examples/gpu-32g-bar-aligned.yaml's BAR
/// placement under five policies), as a sweep thread plays it: metrics only, the workloads' streams drawn once
/// and table memory handed from run to run. The BAR sits 2 MiB past a 1 GiB boundary, as most of the sweep's
/// points do (2M blocks since 5.14; 8,388,608 pages at slot creation before). "fresh" draws the accesses and
/// allocates table memory anew, as a single `s2lab run` does.
/// </summary>
[MemoryDiagnoser]
public class SweepPointBenchmarks
{
    private Scenario _point = null!;
    private RunOptions _shared = null!;
    private RunOptions _fresh = null!;

    [Params("v5.13", "v5.14", "v7.4")]
    public string Policy { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        string dir = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(dir, "Stage2Lab.slnx")))
            dir = Path.GetDirectoryName(dir) ?? throw new InvalidOperationException("Stage2Lab.slnx not found above " + AppContext.BaseDirectory);
        string file = Path.Combine(dir, "examples", "gpu-32g-bar-aligned.yaml");
        _point = ScenarioReader.Parse(File.ReadAllText(file), file, dir, [new ScenarioOverride("mappings.gpu-bar1.start", "0x7f10_0020_0000")]);
        _shared = new RunOptions { CaptureDecisions = false, AccessStreams = new AccessStreamCache(), TablePages = new TablePageCache() };
        _fresh = new RunOptions { CaptureDecisions = false };
    }

    [Benchmark(Description = "sweep point run (shared streams and table memory)")]
    public long Shared() => ScenarioRunner.Run(_point, Policy, _shared).Final.TableBytes;

    [Benchmark(Description = "sweep point run (fresh)")]
    public long Fresh() => ScenarioRunner.Run(_point, Policy, _fresh).Final.TableBytes;
}
