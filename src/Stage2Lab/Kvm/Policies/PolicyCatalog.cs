namespace Stage2Lab.Kvm.Policies;

/// <summary>Every policy by name, in the order comparisons list them (oldest kernel first).</summary>
public static class PolicyCatalog
{
    public static IReadOnlyList<string> Names { get; } = ["v5.9", "v5.13", "seed-v3", "v5.14", "v6.18", "host-pte"];

    /// <summary>Every selectable name: the kernel policies, then the deliberately buggy variants.</summary>
    public static IReadOnlyList<string> AllNames { get; } = [.. Names, .. BuggyVariants.Names];

    /// <summary>The policy called <paramref name="name"/> (a kernel policy or a buggy variant), or null.</summary>
    public static FaultPolicy? TryGet(string name) => name switch
    {
        "v5.9" => new V5_9Policy(),
        "v5.13" => new V5_13Policy(),
        "seed-v3" => new SeedV3Policy(),
        "v5.14" => new V5_14Policy(),
        "v6.18" => new V6_18Policy(),
        "host-pte" => new HostPtePolicy(),
        _ => BuggyVariants.TryGet(name),
    };

    public static FaultPolicy Get(string name) =>
        TryGet(name) ?? throw new ArgumentException($"unknown policy '{name}', expected one of {string.Join(", ", AllNames)}", nameof(name));
}
