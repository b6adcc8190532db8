using Stage2Lab.Arch;

namespace Stage2Lab.Simulation.Import;

/// <summary>What the user says beyond the records.</summary>
public sealed record ImportOptions
{
    /// <summary>--host-page-size: overrides what the records show (or the 4K assumption).</summary>
    public Granule? HostPageSize { get; init; }

    /// <summary>The scenario's name (default: `imported`).</summary>
    public string Name { get; init; } = "imported";
}
