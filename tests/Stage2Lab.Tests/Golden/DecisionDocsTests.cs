using Stage2Lab.Reports;

namespace Stage2Lab.Tests.Golden;

/// <summary>The documented step kinds are the code's: a new step type cannot ship undocumented.</summary>
public class DecisionDocsTests
{
    [Fact]
    public void Every_step_kind_is_documented_in_the_output_format()
    {
        string docs = File.ReadAllText(Path.Combine(RepoPaths.RepoRoot, "docs", "output-format.md"));
        Assert.NotEmpty(DecisionJson.StepTypes);
        foreach (Type t in DecisionJson.StepTypes)
            Assert.Contains($"| `{DecisionJson.StepName(t)}` |", docs);
    }
}
