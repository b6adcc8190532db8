using System.Text.Json;
using Stage2Lab.Tests.Robustness;

namespace Stage2Lab.Tests.Advice;

/// <summary>`s2lab advise` through the command line: the documented JSON, the tables, and bad input.</summary>
public class AdviseCliTests
{
    private static string Example(string name) => Path.Combine(RepoPaths.Examples, name);

    [Fact]
    public void Advise_on_the_unaligned_gpu_example_finds_the_alignment_fix_with_verified_1g_blocks()
    {
        var (code, output, err) = CliProcess.InProcess("advise", Example("gpu-32g-bar-unaligned.yaml"), "--format", "json");
        Assert.True(code == 0, err);
        using JsonDocument doc = JsonDocument.Parse(output);
        JsonElement root = doc.RootElement;
        Assert.Equal("stage2lab.advice/2", root.GetProperty("schema").GetString());
        JsonElement first = root.GetProperty("suggestions")[0];
        Assert.Equal("align-hva", first.GetProperty("kind").GetString());
        Assert.Equal("slot 1 (gpu-bar1)", first.GetProperty("target").GetString());
        Assert.Contains("QEMU 9.2", first.GetProperty("change").GetString());
        Assert.Equal(32, first.GetProperty("after").GetProperty("leaves").GetProperty("l1").GetInt64());
        Assert.Equal(197_689, first.GetProperty("before").GetProperty("leaves").GetProperty("l3").GetInt64());
        Assert.True(first.GetProperty("savedNs").GetInt64() > 0);
        foreach (string key in new[] { "faults", "leaves", "tableBytes", "tlbInvalidations", "estimatedNs" })
            Assert.True(first.GetProperty("before").TryGetProperty(key, out _), key);
        // Every policy of the scenario that maps on fault gains the same fix; v5.13 maps the BAR at slot creation.
        var alignPolicies = root.GetProperty("suggestions").EnumerateArray().Where(x => x.GetProperty("kind").GetString() == "align-hva").Select(x => x.GetProperty("policy").GetString()).ToList();
        Assert.Equal(["seed-v3", "v5.14", "v6.18", "v7.4"], alignPolicies.Order());
        JsonElement slot1 = root.GetProperty("slots").EnumerateArray().First(x => x.GetProperty("policy").GetString() == "v6.18" && x.GetProperty("slot").GetInt32() == 1);
        JsonElement binding = slot1.GetProperty("constraints")[0].GetProperty("binding");
        Assert.Equal("pfnMapBlockCheck", binding.GetProperty("step").GetString());
        Assert.Equal("paMisaligned", binding.GetProperty("result").GetString());
    }

    [Fact]
    public void Format_help_names_the_advice_schema_not_the_result_schema()
    {
        var (code, help, _) = CliProcess.InProcess("advise", "--help");
        Assert.Equal(0, code);
        Assert.Contains("json (schema stage2lab.advice/2, docs/schema/)", help);
        Assert.DoesNotContain("stage2lab.result/", help);
        var (_, explainHelp, _) = CliProcess.InProcess("explain", "--help");
        Assert.Contains("stage2lab.script-decision/1 for a script line", explainHelp);
    }

    [Fact]
    public void Tables_and_markdown_show_the_constraints_and_the_ranked_changes()
    {
        var (code, table, _) = CliProcess.InProcess("advise", Example("ram-no-thp.yaml"), "--policy", "v6.18");
        Assert.Equal(0, code);
        Assert.Contains("transparent_hugepage_adjust", table);
        Assert.Contains("echo madvise > /sys/kernel/mm/transparent_hugepage/enabled", table);
        var (code2, md, _) = CliProcess.InProcess("advise", Example("ram-no-thp.yaml"), "--policy", "v6.18", "--format", "markdown");
        Assert.Equal(0, code2);
        Assert.Contains("| # | kind | target | policy |", md);
        Assert.Contains("| thp | slot 0 (guest-ram) | v6.18 |", md);
    }

    [Fact]
    public void Bad_input_exits_two_with_a_message_and_writes_nothing()
    {
        string dir = CliProcess.TempDir();
        string outFile = Path.Combine(dir, "advice.json");
        var (code, _, err) = CliProcess.InProcess("advise", "/nonexistent/x.yaml", "--out", outFile);
        Assert.Equal(2, code);
        Assert.DoesNotContain("   at ", err);
        Assert.False(File.Exists(outFile));
        var (code2, _, err2) = CliProcess.InProcess("advise", Example("ram-no-thp.yaml"), "--jobs", "0");
        Assert.Equal(2, code2);
        Assert.Contains("--jobs", err2);
        var (code3, _, err3) = CliProcess.InProcess("advise", Example("ram-no-thp.yaml"), "--policy", "v9");
        Assert.Equal(2, code3);
        Assert.Contains("'v9'", err3);
        string bad = Path.Combine(dir, "bad.yaml");
        File.WriteAllText(bad, "host: { ram: [ { base: 0x1000, size: 1G } ] }\nvm: { ipa-bits: 99 }\n");
        var (code4, _, err4) = CliProcess.InProcess("advise", bad, "--out", outFile);
        Assert.Equal(2, code4);
        Assert.Contains("bad.yaml:2:", err4);
        Assert.False(File.Exists(outFile));
    }

    [Fact]
    public void Json_out_is_written_atomically()
    {
        string dir = CliProcess.TempDir();
        string outFile = Path.Combine(dir, "advice.json");
        var (code, output, _) = CliProcess.InProcess("advise", Example("ram-no-thp.yaml"), "--policy", "v6.18", "--format", "json", "--out", outFile);
        Assert.Equal(0, code);
        Assert.Equal("", output);
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(outFile));
        Assert.NotEqual(0, doc.RootElement.GetProperty("suggestions").GetArrayLength());
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
    }
}
