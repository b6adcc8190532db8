using BenchmarkDotNet.Attributes;
using Stage2Lab.Simulation.Scripts;

namespace Stage2Lab.Benchmarks;

/// <summary>
/// `s2lab replay` minus the process: S2OpsScript.Run (check pass, then run pass, a fresh table each time) on an
/// in-memory script of 262,144 map lines (1 GiB as 4K pages), output to TextWriter.Null. Per line.
/// </summary>
[MemoryDiagnoser]
public class ReplayBenchmarks
{
    private const int Lines = 262_144;

    private ScriptSource _source = null!;

    [GlobalSetup]
    public void Setup()
    {
        byte[] script = Workloads.OneRoundScriptBytes();
        int lines = script.Count(b => b == (byte)'\n');
        if (lines != Lines)
            throw new InvalidOperationException($"script has {lines} lines, expected {Lines}");
        _source = ScriptSource.FromStream(new MemoryStream(script), "bench.s2ops");
    }

    [GlobalCleanup]
    public void Cleanup() => _source.Dispose();

    [Benchmark(OperationsPerInvoke = Lines, Description = "S2OpsScript.Run, 262,144 map lines, per line")]
    public long Replay()
    {
        _source.Rewind();
        return S2OpsScript.Run(_source, TextWriter.Null).LiveTablePagesTotal;
    }
}
