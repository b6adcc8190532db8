using Stage2Lab.Simulation.Runs;

namespace Stage2Lab.Simulation.Advice;

/// <summary>What advise runs and how.</summary>
public sealed class AdviceOptions
{
    /// <summary>At most this many changes are tried per policy (the costliest constraints' first).</summary>
    public const int DefaultMaxChangesPerPolicy = 24;

    public required IReadOnlyList<string> Policies { get; init; }

    /// <summary>Runs at the same time (they are independent); the result does not depend on it.</summary>
    public int MaxParallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>The most memory runs may plan to need together; fewer run at once, and a change whose run alone would need more is not tried.</summary>
    public ulong MemoryLimitBytes { get; init; } = MemoryEstimator.DefaultLimitBytes;

    public int MaxChangesPerPolicy { get; init; } = DefaultMaxChangesPerPolicy;

    /// <summary>The guest TLB model's profile for every run (null: off; the time is then the host's alone).</summary>
    public Tlb.TlbProfile? Tlb { get; init; }

    /// <summary>Where the scenario's items came from (an imported scenario's comments).</summary>
    public ScenarioSources Sources { get; init; } = ScenarioSources.None;

    /// <summary>Called with (runs done, runs in all) as runs finish, from any thread.</summary>
    public Action<int, int>? Progress { get; init; }
}
