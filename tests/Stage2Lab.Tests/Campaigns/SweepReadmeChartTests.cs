using static Stage2Lab.Tests.Robustness.CliProcess;

namespace Stage2Lab.Tests.Campaigns;

/// <summary>The chart in the README is what its command writes today (S2LAB_UPDATE_GOLDEN=1 rewrites it).</summary>
public class SweepReadmeChartTests
{
    [Fact]
    public void The_readme_sweep_chart_is_the_tools_current_output()
    {
        string readme = File.ReadAllText(Path.Combine(RepoPaths.RepoRoot, "README.md"));
        int start = readme.IndexOf("s2lab sweep examples/gpu-32g-bar-aligned.yaml", StringComparison.Ordinal);
        Assert.True(start >= 0, "the README shows the sweep command");
        string command = readme[start..readme.IndexOf("```", start, StringComparison.Ordinal)].Replace("\\\n", " ", StringComparison.Ordinal);
        string[] args = command.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[1..];
        int plot = Array.IndexOf(args, "--plot");
        Assert.Equal("docs/img/sweep-bar-offset.svg", args[plot + 1]);
        string kept = Path.Combine(RepoPaths.RepoRoot, "docs", "img", "sweep-bar-offset.svg");
        string fresh = Path.Combine(TempDir(), "sweep-bar-offset.svg");
        args[plot + 1] = fresh;
        args[1] = Path.Combine(RepoPaths.RepoRoot, args[1]);
        var r = InProcess([.. args, "--format", "csv"]);
        Assert.True(r.Code == 0, r.Err);
        if (Environment.GetEnvironmentVariable("S2LAB_UPDATE_GOLDEN") == "1")
            File.Copy(fresh, kept, overwrite: true);
        Assert.Equal(File.ReadAllText(kept), File.ReadAllText(fresh));
    }
}
