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

    public static string Golden => SharedFolder(RepoRoot, "golden");

    public static string FaultGolden => SharedFolder(RepoRoot, "fgolden");

    /// <summary>The newest kernel's fault-path goldens (v74-*, v74pkvm-*).</summary>
    public static string FaultGoldenV74 => SharedFolder(RepoRoot, "fgolden-v74");

    /// <summary>
    /// A folder of the shared golden vectors beside the checkout; when it is missing, a message that says what is
    /// missing and where it must be (README, "Prerequisites"), not a bare DirectoryNotFoundException.
    /// </summary>
    internal static string SharedFolder(string repoRoot, string name)
    {
        string shared = Path.GetFullPath(Path.Combine(repoRoot, "..", "shared"));
        string folder = Path.Combine(shared, name);
        if (!Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException(
                $"the shared golden vectors are missing: expected {folder} (the folder 'shared' beside this checkout, holding golden/, fgolden/, fgolden-v74/ and spec/: the outputs of the kernel's own code). " +
                "Put the shared folder next to the repository (see README, \"Prerequisites\"); the tests that compare against the kernel cannot run without it.");
        }
        return folder;
    }

    public static string Examples => Path.Combine(RepoRoot, "examples");
}
