using Stage2Lab.Reports;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Tests.Golden;

/// <summary>
/// The JSON of `compare` and `explain` on one example, kept byte for byte: a change of the schema (a key renamed,
/// a step's field added) shows here and must be made on purpose. To accept a deliberate change, run the tests
/// with S2LAB_UPDATE_GOLDEN=1 and review the diff of the .json files.
/// </summary>
public class JsonGoldenTests
{
    private static string Folder => Path.Combine(RepoPaths.RepoRoot, "tests", "Stage2Lab.Tests", "Golden");

    private static Scenario Example() => ScenarioReader.Load(Path.Combine(RepoPaths.Examples, "ram-hugetlb-1g.yaml"));

    /// <summary>The tool version changes with every commit (it comes from git): the goldens hold a placeholder.</summary>
    internal static string WithoutVersion(string json) =>
        System.Text.RegularExpressions.Regex.Replace(json, "\"toolVersion\": \"[^\"]*\"", "\"toolVersion\": \"(version)\"");

    private static void AssertGolden(string name, string actual)
    {
        actual = WithoutVersion(actual);
        string path = Path.Combine(Folder, name);
        if (Environment.GetEnvironmentVariable("S2LAB_UPDATE_GOLDEN") == "1")
            File.WriteAllText(path, actual);
        Assert.True(File.Exists(path), $"{path} is missing; run the tests with S2LAB_UPDATE_GOLDEN=1 once");
        Assert.Equal(File.ReadAllText(path), actual);
    }

    [Fact]
    public void Compare_json_of_the_hugetlb_example()
    {
        // As the CLI's compare runs it: with the guest TLB model on (--tlb neoverse-n1, the default).
        ScenarioResult result = ScenarioRunner.RunAll(Example(), ["v5.13", "v6.18"], new RunOptions { Tlb = Simulation.Tlb.TlbProfiles.NeoverseN1 });
        AssertGolden("compare-ram-hugetlb-1g.json", JsonReport.Render(result, "compare"));
    }

    [Fact]
    public void Explain_json_names_the_binding_constraint()
    {
        // The misaligned 1G hugetlb slot: a 2M block, because the slot's IPA and HVA differ modulo 1G.
        ScenarioResult result = ScenarioRunner.RunAll(Example(), ["v6.18"], new RunOptions { ExplainIpa = 0x2_4020_0000, CaptureDecisions = false });
        string json = JsonReport.Render(result, "explain");
        Assert.Contains("\"bindingConstraint\": {", json);
        Assert.Contains("\"step\": \"hugeMappingCheck\"", json);
        AssertGolden("explain-ram-hugetlb-1g.json", json);
    }
}
