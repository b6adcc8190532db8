namespace Stage2Lab.Kvm.Policies;

/// <summary>Every policy by name, in the order comparisons list them (oldest kernel first).</summary>
public static class PolicyCatalog
{
    public static IReadOnlyList<string> Names { get; } = ["v5.9", "v5.13", "seed-v3", "v5.14", "v6.18", "host-pte"];

    /// <summary>The policy called <paramref name="name"/>, or null.</summary>
    public static FaultPolicy? TryGet(string name) => name switch
    {
        "v5.9" => new V5_9Policy(),
        "v5.13" => new V5_13Policy(),
        "seed-v3" => new SeedV3Policy(),
        "v5.14" => new V5_14Policy(),
        "v6.18" => new V6_18Policy(),
        "host-pte" => new HostPtePolicy(),
        _ => null,
    };

    public static FaultPolicy Get(string name) =>
        TryGet(name) ?? throw new ArgumentException($"unknown policy '{name}', expected one of {string.Join(", ", Names)}", nameof(name));
}
