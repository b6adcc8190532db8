using System.Text.RegularExpressions;
using Stage2Lab.Simulation.Invariants;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Tests.Fuzzing;

/// <summary>Every bug the fuzzer found is kept as a scenario: `check` must still find it.</summary>
public partial class RegressionTests
{
    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        foreach (string f in Directory.GetFiles(Folder, "*.yaml").Order(StringComparer.Ordinal))
            data.Add(Path.GetFileName(f));
        return data;
    }

    private static string Folder => Path.Combine(RepoPaths.RepoRoot, "tests", "Stage2Lab.Tests", "Fuzzing", "Regressions");

    [GeneratedRegex(@"^# Violation: event \d+: (\w+):", RegexOptions.Multiline)]
    private static partial Regex ViolationLine();

    [Theory]
    [MemberData(nameof(Files))]
    public void The_shrunk_reproducer_still_breaks_its_invariant(string file)
    {
        string path = Path.Combine(Folder, file);
        Scenario s = ScenarioReader.Load(path);
        var expected = Enum.Parse<InvariantKind>(ViolationLine().Match(File.ReadAllText(path)).Groups[1].Value);
        string policy = Assert.Single(s.Vm.Policies);
        Stage2Lab.Simulation.Runs.PolicyRun check = Stage2Lab.Simulation.Runs.ScenarioCheck.Run(s, policy);
        Assert.Contains(check.Violations, v => v.Kind == expected);
        Assert.True(s.Timeline.Count <= 3, "reproducers are shrunk to a few events");
    }

    [Fact]
    public void Every_reproducer_is_also_a_runnable_example()
    {
        foreach (string file in Directory.GetFiles(Folder, "*.yaml"))
            Assert.True(File.Exists(Path.Combine(RepoPaths.Examples, "bugs", Path.GetFileName(file))), file);
    }
}
