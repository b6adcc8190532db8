namespace Stage2Lab.Tests;

/// <summary>Where the repository and the shared golden vectors are, found from the test binary's folder.</summary>
internal static class RepoPaths
{
    private static readonly Lazy<string> Root = new(() =>
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Stage2Lab.slnx")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Stage2Lab.slnx not found above " + AppContext.BaseDirectory);
    });

    public static string RepoRoot => Root.Value;

    /// <summary>../shared next to the checkout (CI and every developer have it).</summary>
    public static string Shared => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    public static string Golden => Path.Combine(Shared, "golden");

    public static string FaultGolden => Path.Combine(Shared, "fgolden");

    /// <summary>The newest kernel's fault-path goldens (v74-*, v74pkvm-*).</summary>
    public static string FaultGoldenV74 => Path.Combine(Shared, "fgolden-v74");

    public static string Examples => Path.Combine(RepoRoot, "examples");
}
