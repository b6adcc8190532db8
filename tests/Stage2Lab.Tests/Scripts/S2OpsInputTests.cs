using Stage2Lab.Simulation.Scripts;

namespace Stage2Lab.Tests.Scripts;

public class S2OpsInputTests
{
    private static string Run(string text)
    {
        using var source = ScriptSource.FromText(text, "t.s2ops");
        var output = new StringWriter { NewLine = "\n" };
        S2OpsScript.Run(source, output);
        return output.ToString();
    }

    [Theory]
    [InlineData("granule 4K\nmap 0x1000 4K 0x2000 rq\n", 2, "bad PROT letter 'q'")]
    [InlineData("map 0x1000 4K 0x2000 rw\ngranule 16K\n", 2, "after an operation")]
    [InlineData("# c\n\nfrob 1 2\n", 3, "unknown operation 'frob'")]
    [InlineData("map 0x1800 4K 0x2000 rw\n", 1, "not a multiple of the 4K granule")]
    [InlineData("map 0x1000 4K zz rw\n", 1, "bad number 'zz' for PA")]
    [InlineData("map 0x1000 4K\n", 1, "missing PA")]
    [InlineData("unmap 0x1000 4K extra\n", 1, "unexpected 'extra'")]
    [InlineData("ipa-bits 50\n", 1, "ipa-bits 50 out of range")]
    [InlineData("granule 8K\n", 1, "bad granule '8K'")]
    [InlineData("mkyoung 0x10000000000\n", 1, "mkyoung IPA")]
    public void Malformed_lines_stop_with_file_and_line(string script, int line, string message)
    {
        var ex = Assert.Throws<ScriptException>(() => Run(script));
        Assert.Equal(line, ex.Line);
        Assert.StartsWith($"t.s2ops:{line}: ", ex.Message);
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public void A_malformed_line_produces_no_partial_output()
    {
        using var source = ScriptSource.FromText("map 0x1000 4K 0x2000 rw\ndump\nbogus\n", "t.s2ops");
        var output = new StringWriter();
        Assert.Throws<ScriptException>(() => S2OpsScript.Run(source, output));
        Assert.Equal("", output.ToString());
    }

    [Fact]
    public void Output_released_early_still_waits_for_the_rest_of_the_script_to_be_checked()
    {
        // A hold limit of one character: the first dump releases the held output early, after the rest of the
        // script has been checked, so the malformed last line still leaves no output.
        using var source = ScriptSource.FromText("map 0x1000 4K 0x2000 rw\ndump\nmap 0x3000 4K 0x4000 rw\ndump\nbogus\n", "t.s2ops");
        var output = new StringWriter();
        var ex = Assert.Throws<ScriptException>(() => S2OpsScript.Run(source, output, stats: false, holdLimit: 1));
        Assert.Equal(5, ex.Line);
        Assert.Equal("", output.ToString());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(100)]
    [InlineData(1 << 20)]
    public void Output_is_the_same_whatever_the_hold_limit(int holdLimit)
    {
        const string script = "map 0x1000 4K 0x2000 rw\ndump\nmap 0x40000000 2M 0x80000000 rw\nunmap 0x5000 8K\n"
            + "map 0x1000 4K 0x2000 rwxd\ndump\nsplit 0x40000000 2M\ndump\n";
        using var held = ScriptSource.FromText(script, "t.s2ops");
        var heldOutput = new StringWriter { NewLine = "\n" };
        S2OpsScript.Run(held, heldOutput, stats: true, holdLimit);
        Assert.Equal(Run(script) + StatsOf(script), heldOutput.ToString());
        Assert.Contains("error 5 EINVAL\n", heldOutput.ToString());
    }

    private static string StatsOf(string script)
    {
        using var source = ScriptSource.FromText(script, "t.s2ops");
        var output = new StringWriter { NewLine = "\n" };
        var pgt = S2OpsScript.Run(source, TextWriter.Null);
        StatsWriter.Write(pgt, output);
        return output.ToString();
    }

    [Fact]
    public void Refused_operations_print_error_lines_and_the_script_goes_on()
    {
        string output = Run("ipa-bits 32\nmap 0x100000000 4K 0x0 rw\nmap 0x1000 4K 0x2000 rwxd\nmap 0x1000 4K 0x2000 rw\ndump\n");
        Assert.Equal("error 2 ERANGE\nerror 3 EINVAL\nL3 0x0000000000001000 0x1000 0x00400000000027ff\ntables L0=0 L1=0 L2=4 L3=1\nend\n", output);
    }

    [Fact]
    public void Stats_follow_the_last_end_line()
    {
        using var source = ScriptSource.FromText("map 0x40000000 1G 0x80000000 rwd\nunmap 0x40000000 1G\ndump\n", "t.s2ops");
        var output = new StringWriter { NewLine = "\n" };
        S2OpsScript.Run(source, output, stats: true);
        string text = output.ToString();
        int end = text.LastIndexOf("end\n", StringComparison.Ordinal);
        Assert.True(end >= 0);
        string stats = text[(end + 4)..];
        Assert.Contains("stat leaves-installed-l1 1\n", stats);
        Assert.Contains("stat tlbi-ipas2e1is-l1 1\n", stats);
        Assert.Contains("stat dcache-clean-bytes 0\n", stats); // device memory is never cleaned
    }
}
