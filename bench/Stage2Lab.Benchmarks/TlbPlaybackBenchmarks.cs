using BenchmarkDotNet.Attributes;
using Stage2Lab.Simulation.Playback;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Scenarios;
using Stage2Lab.Simulation.Tlb;

namespace Stage2Lab.Benchmarks;

/// <summary>
/// A whole timeline played with the guest TLB observer on (--tlb neoverse-n1, the CLI's default) and off: the
/// example gpu-32g-bar-aligned.yaml (1,208,192 guest accesses: a boot sweep, 200,000 random accesses through the
/// BAR's 1G blocks, a million zipf accesses over 16 GiB of RAM in 4K guest pages) under v5.14, as `run` plays it
/// without decisions. Per guest access, so on - off is what the model adds to each access of a run.
/// </summary>
[MemoryDiagnoser]
public class TlbPlaybackBenchmarks
{
    private Scenario _gpu = null!;
    private long _accesses;

    [GlobalSetup]
    public void Setup()
    {
        string dir = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(dir, "Stage2Lab.slnx")))
            dir = Path.GetDirectoryName(dir) ?? throw new InvalidOperationException("Stage2Lab.slnx not found above " + AppContext.BaseDirectory);
        _gpu = ScenarioReader.Load(Path.Combine(dir, "examples", "gpu-32g-bar-aligned.yaml"));
        _accesses = TimelinePlayer.CountAccesses(_gpu);
        if (_accesses != 1_208_192)
            throw new InvalidOperationException($"expected 1,208,192 accesses, the scenario makes {_accesses}");
    }

    private const int Accesses = 1_208_192;

    [Benchmark(Baseline = true, OperationsPerInvoke = Accesses, Description = "play gpu-32g-bar-aligned under v5.14, --tlb off, per access")]
    public double TlbOff() => ScenarioRunner.Run(_gpu, "v5.14", new RunOptions { CaptureDecisions = false }).TotalEstimatedNs;

    [Benchmark(OperationsPerInvoke = Accesses, Description = "play gpu-32g-bar-aligned under v5.14, --tlb neoverse-n1, per access")]
    public double TlbOn() => ScenarioRunner.Run(_gpu, "v5.14", new RunOptions { CaptureDecisions = false, Tlb = TlbProfiles.NeoverseN1 }).TotalEstimatedGuestNs;
}
