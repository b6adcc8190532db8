using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Stage2Lab.Cli;
using Stage2Lab.Reports;
using static Stage2Lab.Tests.Robustness.CliProcess;

namespace Stage2Lab.Tests.Cli;

/// <summary>
/// Issue 11, items 10, 16 and 17: s2lab as a dotnet tool (the package as `dotnet pack` makes it: its version from
/// git, a README whose links work, tags, roll-forward) and the README's promises.
/// </summary>
public class PackagingTests
{
    private static (int Code, string Out) Run(string file, string workingDirectory, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = workingDirectory };
        foreach (string a in args)
            info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)}");
        }
        return (process.ExitCode, output.Result + error.Result);
    }

    [Fact]
    public void The_tool_package_has_a_git_version_a_readme_without_broken_links_tags_and_roll_forward()
    {
        // The configuration the tests were built in (bin/Release/... or bin/Debug/...), packed without a rebuild.
        string configuration = new DirectoryInfo(Path.GetDirectoryName(typeof(CliApp).Assembly.Location)!).Parent!.Name;
        string output = TempDir();
        var (code, log) = Run("dotnet", RepoPaths.RepoRoot, "pack", "src/Stage2Lab.Cli", "-c", configuration, "--no-build", "-o", output);
        Assert.True(code == 0, log);
        string package = Assert.Single(Directory.GetFiles(output, "Stage2Lab.Cli.*.nupkg"));
        using ZipArchive zip = ZipFile.OpenRead(package);

        XNamespace ns = "http://schemas.microsoft.com/packaging/2012/06/nuspec.xsd";
        XElement metadata = XDocument.Load(zip.GetEntry("Stage2Lab.Cli.nuspec")!.Open()).Root!.Element(ns + "metadata")!;
        string version = metadata.Element(ns + "version")!.Value;
        Assert.Equal(JsonReport.ToolVersion, version);
        var (_, versionOut, _) = Spawn("--version");
        Assert.StartsWith(version + "+", versionOut.Trim(), StringComparison.Ordinal);
        // MAJOR.MINOR from version.json, then the git height: a new version with every commit.
        string majorMinor = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.RepoRoot, "version.json"))).RootElement.GetProperty("version").GetString()!;
        Assert.Matches($"^{Regex.Escape(majorMinor)}\\.[1-9][0-9]*$", version);
        string commit = versionOut.Trim()[(version.Length + 1)..];
        Assert.Equal(0, Run("git", RepoPaths.RepoRoot, "cat-file", "-e", commit + "^{commit}").Code);
        Assert.Contains("stage2", metadata.Element(ns + "tags")!.Value.Split(' '));
        Assert.Equal("git", metadata.Element(ns + "repository")?.Attribute("type")?.Value);

        Assert.Equal("PACKAGE.md", metadata.Element(ns + "readme")!.Value);
        string readme = new StreamReader(zip.GetEntry("PACKAGE.md")!.Open()).ReadToEnd();
        foreach (Match link in Regex.Matches(readme, @"\]\(([^)]+)\)"))
            Assert.Matches("^https://", link.Groups[1].Value); // a relative link would be broken on a package feed
        Assert.Contains("s2lab examples", readme);

        using JsonDocument runtimeConfig = JsonDocument.Parse(zip.GetEntry("tools/net10.0/any/s2lab.runtimeconfig.json")!.Open());
        Assert.Equal("Major", runtimeConfig.RootElement.GetProperty("runtimeOptions").GetProperty("rollForward").GetString());
    }

    [Fact]
    public void The_readme_names_the_policies_the_example_shows_and_its_prerequisites()
    {
        string readme = File.ReadAllText(Path.Combine(RepoPaths.RepoRoot, "README.md"));
        var example = Stage2Lab.Simulation.Scenarios.ScenarioReader.Load(Path.Combine(RepoPaths.Examples, "gpu-32g-bar-aligned.yaml"));
        var kinds = example.Vm.Policies.Select(p => Stage2Lab.Kvm.Policies.PolicyRegistry.Find(p)!.Kind).ToList();
        string[] words = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight"];
        int kernels = kinds.Count(k => k == Stage2Lab.Kvm.Policies.PolicyKind.Kernel), proposals = kinds.Count(k => k == Stage2Lab.Kvm.Policies.PolicyKind.Proposal);
        Assert.Contains($"under {words[kernels]} kernel versions", readme);
        Assert.Contains($"and {words[proposals]} proposal (`host-pte`)", readme);
        Assert.Contains("the host maps this BAR with PMD (2 MiB) leaves", readme);
        Assert.Contains(".NET 10 SDK", readme);
        Assert.Contains("`../shared`", readme);
        foreach (var policy in Stage2Lab.Kvm.Policies.PolicyRegistry.All)
            Assert.Contains($"`{policy.Name}`", readme);
    }

    [Fact]
    public void A_missing_shared_folder_says_what_is_missing_and_where()
    {
        string root = Path.Combine(TempDir(), "checkout");
        Directory.CreateDirectory(root);
        var ex = Assert.Throws<DirectoryNotFoundException>(() => RepoPaths.SharedFolder(root, "fgolden"));
        Assert.Contains("the shared golden vectors are missing", ex.Message);
        Assert.Contains(Path.Combine(Path.GetDirectoryName(root)!, "shared", "fgolden"), ex.Message);
        Assert.Contains("README", ex.Message);
        Assert.Equal(RepoPaths.FaultGolden, RepoPaths.SharedFolder(RepoPaths.RepoRoot, "fgolden"));
    }
}
