using Stage2Lab.Simulation.Scripts;

namespace Stage2Lab.Tests.Scripts;

/// <summary>Every page-table golden vector (output of the kernel's own pgtable.c) must match byte for byte.</summary>
public class S2OpsGoldenTests
{
    public static TheoryData<string> Goldens()
    {
        var data = new TheoryData<string>();
        foreach (string file in Directory.EnumerateFiles(RepoPaths.Golden, "*.s2ops").Order(StringComparer.Ordinal))
            data.Add(Path.GetFileName(file));
        return data;
    }

    [Theory]
    [MemberData(nameof(Goldens))]
    public void Replay_matches_the_kernel_byte_for_byte(string name)
    {
        string script = Path.Combine(RepoPaths.Golden, name);
        string expected = File.ReadAllText(Path.ChangeExtension(script, ".out"));
        using var source = ScriptSource.OpenFile(script);
        var output = new StringWriter { NewLine = "\n" };
        S2OpsScript.Run(source, output);
        Assert.Equal(expected, output.ToString());
    }

    [Fact]
    public void There_are_golden_vectors_to_check()
    {
        Assert.True(Goldens().Count >= 90, "expected the ~96 shared page-table goldens in " + RepoPaths.Golden);
    }
}
