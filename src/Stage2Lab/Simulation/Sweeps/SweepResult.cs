using Stage2Lab.Simulation.Campaigns;

namespace Stage2Lab.Simulation.Sweeps;

/// <summary>One point under one policy: its metrics in <see cref="SweepMetrics.All"/> order.</summary>
public sealed record SweepRow(long Point, IReadOnlyList<string> Values, string Policy, string Granule, IReadOnlyList<long> Metrics);

/// <summary>
/// A sweep's rows, point by point and policy by policy within a point, for the points of <see cref="Shard"/>
/// (all of them when whole). Holds what the outputs need and nothing that differs between machines or runs.
/// </summary>
public sealed record SweepResult(
    string Scenario,
    string File,
    string ScenarioSha256,
    IReadOnlyList<SweepAxis> Axes,
    IReadOnlyList<string> Policies,
    long Points,
    Shard Shard,
    IReadOnlyList<SweepRow> Rows);
