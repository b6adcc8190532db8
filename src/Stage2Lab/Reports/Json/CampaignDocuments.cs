using Stage2Lab.Simulation.Campaigns;

namespace Stage2Lab.Reports;

// The JSON of the campaign commands (sweep, fuzz --format json). A shard's document is the whole run's with
// `shard` added and only its part of the rows or cases: `s2lab merge` reads shards back and writes exactly the
// whole run's document. Nothing that differs between runs (elapsed time, events per second) is in them.

/// <summary>Which of how many parts of a campaign a document holds (absent: the whole campaign).</summary>
public sealed class ShardJson
{
    /// <summary>1-based.</summary>
    public required int Index { get; init; }

    public required int Count { get; init; }

    /// <summary>The shard as its documents carry it: null for a whole (unsharded) run.</summary>
    public static ShardJson? Of(Shard shard) => shard.IsWhole ? null : new ShardJson { Index = shard.Index, Count = shard.Count };
}

/// <summary>`sweep --format json`: schema stage2lab.sweep/1.</summary>
public sealed class SweepDocument
{
    public required string Schema { get; init; }

    public required string ToolVersion { get; init; }

    public required string Command { get; init; }

    public required string Scenario { get; init; }

    /// <summary>The scenario file's name, without its folder.</summary>
    public required string File { get; init; }

    /// <summary>SHA-256 of the scenario text: shards of different scenarios are not merged.</summary>
    public required string ScenarioSha256 { get; init; }

    public ShardJson? Shard { get; init; }

    /// <summary>Points of the whole sweep (the cross product of the axes).</summary>
    public required long Points { get; init; }

    /// <summary>The varied keys, the first varying slowest.</summary>
    public required IReadOnlyList<SweepAxisJson> Axes { get; init; }

    public required IReadOnlyList<string> Policies { get; init; }

    /// <summary>The metrics of every row, in this order.</summary>
    public required IReadOnlyList<SweepMetricJson> Metrics { get; init; }

    /// <summary>One row per point and policy (this shard's points only, in a shard).</summary>
    public required IReadOnlyList<SweepRowJson> Rows { get; init; }
}

public sealed class SweepAxisJson
{
    /// <summary>The key path as given to --vary.</summary>
    public required string Key { get; init; }

    /// <summary>text, decimal, hex or size: how the values are written and plotted.</summary>
    public required string Notation { get; init; }

    public required IReadOnlyList<string> Values { get; init; }
}

public sealed class SweepMetricJson
{
    public required string Name { get; init; }

    /// <summary>count, bytes or nanoseconds.</summary>
    public required string Unit { get; init; }

    public required string Description { get; init; }
}

public sealed class SweepRowJson
{
    /// <summary>0-based index of the point in the whole sweep.</summary>
    public required long Point { get; init; }

    /// <summary>The point's value of each axis, in axis order.</summary>
    public required IReadOnlyList<string> Values { get; init; }

    public required string Policy { get; init; }

    /// <summary>The host page size of the point (4K, 16K or 64K): what the level of a leaf means.</summary>
    public required string Granule { get; init; }

    /// <summary>The metrics, in the order of the document's metrics.</summary>
    public required IReadOnlyList<long> Metrics { get; init; }
}

/// <summary>`fuzz --format json`: schema stage2lab.fuzz/1.</summary>
public sealed class FuzzDocument
{
    public required string Schema { get; init; }

    public required string ToolVersion { get; init; }

    public required string Command { get; init; }

    public required string Policy { get; init; }

    public required bool Pkvm { get; init; }

    public required ulong Seed { get; init; }

    /// <summary>ordinary or any.</summary>
    public required string Layout { get; init; }

    public string? Invariant { get; init; }

    /// <summary>The campaign's case budget (--cases), or null when it ran on an event budget.</summary>
    public long? CaseBudget { get; init; }

    /// <summary>The campaign's event budget (--events; 0 with --cases alone).</summary>
    public required long EventBudget { get; init; }

    /// <summary>True when --seconds limited the campaign: then its extent depends on the machine.</summary>
    public required bool TimeLimited { get; init; }

    public ShardJson? Shard { get; init; }

    /// <summary>The first case of this document (0 for a whole campaign).</summary>
    public required long FirstCase { get; init; }

    /// <summary>Cases run, from <see cref="FirstCase"/>, up to and including the violating one.</summary>
    public required long Cases { get; init; }

    /// <summary>Events checked in those cases (in the violating case: up to the violation).</summary>
    public required long Events { get; init; }

    public FuzzFindingJson? Finding { get; init; }
}

public sealed class FuzzFindingJson
{
    /// <summary>The 0-based index of the violating case in the whole campaign.</summary>
    public required long Case { get; init; }

    /// <summary>Events checked from the document's first case up to the violation.</summary>
    public required long EventsToFind { get; init; }

    public required string Invariant { get; init; }

    public required string Violation { get; init; }

    public required int EventsBeforeShrinking { get; init; }

    public required int EventsAfterShrinking { get; init; }

    /// <summary>The shrunk reproducer: a scenario file that `s2lab check` fails on.</summary>
    public required string Reproducer { get; init; }
}
