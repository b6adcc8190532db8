using Stage2Lab.Cli;

namespace Stage2Lab.Tests.Cli;

public class CliTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static string Example(string name) => Path.Combine(RepoPaths.Examples, name);

    [Fact]
    public void Compare_prints_every_policy_and_exits_zero()
    {
        var (code, output, _) = Run("compare", Example("device-reset-zap.yaml"), "--format", "markdown");
        Assert.Equal(0, code);
        Assert.Contains("| v5.13 | v5.14 | v6.18 |", output);
    }

    [Fact]
    public void Json_out_is_written_atomically_and_nothing_is_written_on_bad_input()
    {
        string dir = Directory.CreateTempSubdirectory().FullName;
        string outFile = Path.Combine(dir, "r.json");
        var (code, _, _) = Run("run", Example("nic-small-bars-mmio.yaml"), "--policy", "v6.18", "--format", "json", "--out", outFile);
        Assert.Equal(0, code);
        Assert.Contains("stage2lab.result/3", File.ReadAllText(outFile));
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));

        string bad = Path.Combine(dir, "bad.yaml");
        File.WriteAllText(bad, "host: { ram: [ { base: 0x1000, size: 1G } ] }\nvm: { ipa-bits: 99 }\n");
        string other = Path.Combine(dir, "other.json");
        var (badCode, _, err) = Run("compare", bad, "--format", "json", "--out", other);
        Assert.Equal(2, badCode);
        Assert.Contains("bad.yaml:2:", err);
        Assert.Contains("vm.ipa-bits", err);
        Assert.False(File.Exists(other));
    }

    [Fact]
    public void Bad_options_and_missing_files_exit_two_without_a_stack_trace()
    {
        var (code, _, err) = Run("compare", "/nonexistent/x.yaml");
        Assert.Equal(2, code);
        Assert.DoesNotContain("   at ", err);
        var (code2, _, err2) = Run("run", Example("nic-small-bars-mmio.yaml"), "--policy", "v9");
        Assert.Equal(2, code2);
        Assert.Contains("'v9' not recognized", err2); // System.CommandLine's own validation, choices from the registry
        Assert.Contains("'v6.18'", err2);
        var (code3, _, _) = Run("frobnicate");
        Assert.Equal(2, code3);
        var (code4, _, err4) = Run("replay", "/nonexistent/x.s2ops");
        Assert.Equal(2, code4);
        Assert.Contains("/nonexistent/x.s2ops: no such file", err4);
    }

    [Fact]
    public void Check_and_compare_with_check_exit_one_on_a_violation_and_zero_without()
    {
        string repro = Path.Combine(RepoPaths.Examples, "bugs", "v6.18-block-past-vma-end.yaml");
        var (code, output, _) = Run("check", repro);
        Assert.Equal(1, code);
        Assert.Contains("LeafInOneVma", output);
        Assert.Contains("the fault that caused the first one", output);
        var (code2, output2, _) = Run("compare", repro, "--policies", "v6.18", "host-pte", "--check", "--format", "markdown");
        Assert.Equal(1, code2);
        Assert.Contains("| invariant violations | 2 | 0 ×0 |", output2);
        var (code3, _, _) = Run("check", Example("nic-small-bars-mmio.yaml"));
        Assert.Equal(0, code3);
    }

    [Fact]
    public void Fuzz_writes_a_reproducer_and_exits_one_when_it_finds_a_violation()
    {
        string dir = Directory.CreateTempSubdirectory().FullName;
        string repro = Path.Combine(dir, "r.yaml");
        var (code, output, _) = Run("fuzz", "--policy", "bug-log-blocks", "--layout", "ordinary", "--events", "20000", "--out", repro);
        Assert.Equal(1, code);
        Assert.Contains("events/s", output);
        Assert.True(File.Exists(repro));
        var (checkCode, _, _) = Run("check", repro);
        Assert.Equal(1, checkCode);
        var (clean, cleanOut, _) = Run("fuzz", "--policy", "v6.18", "--layout", "ordinary", "--events", "5000");
        Assert.Equal(0, clean);
        Assert.Contains("no invariant violation", cleanOut);
    }

    [Fact]
    public void Help_documents_the_exit_codes_once_in_the_root_help()
    {
        var (code, output, _) = Run("--help");
        Assert.Equal(0, code);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(output, "Exit codes of every command: 0 success, 1"));
        foreach (string command in new[] { "compare", "run", "explain", "check", "fuzz", "replay", "import", "examples", "advise" })
        {
            var (subCode, sub, _) = Run(command, "--help");
            Assert.Equal(0, subCode);
            Assert.DoesNotContain("Exit codes", sub);
        }
    }

    [Fact]
    public void Explain_a_script_line_and_a_scenario_ipa()
    {
        string script = Path.Combine(RepoPaths.FaultGolden, "named-bar-vma-ends-mid-block.s2faults");
        int line = File.ReadAllLines(script).Select((l, i) => (l, i)).First(x => x.l.StartsWith("access", StringComparison.Ordinal)).i + 1;
        var (code, output, _) = Run("explain", script, "--line", line.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(0, code);
        Assert.Contains("get_vma_page_shift", output);
        var (code2, output2, _) = Run("explain", Example("gpu-32g-bar-aligned.yaml"), "--ipa", "0x80_4000_0000", "--policy", "seed-v3");
        Assert.Equal(0, code2);
        Assert.Contains("device_rough_page_shift", output2);
        Assert.Contains("size 1G", output2);
    }

    [Fact]
    public void Replay_of_a_malformed_script_exits_two_with_file_and_line()
    {
        string dir = Directory.CreateTempSubdirectory().FullName;
        string path = Path.Combine(dir, "bad.s2faults");
        File.WriteAllText(path, "granule 4K\nram 0x80000000 1G\nslot 0 0x40000000 1G\naccess 0x40000000 q\n");
        var (code, output, err) = Run("replay", path);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains("bad.s2faults:3: missing HVA", err);
    }

    [Fact]
    public void Fuzz_with_pkvm_runs_for_kernels_that_model_it_and_refuses_the_others()
    {
        var (code, output, _) = Run("fuzz", "--policy", "v7.4", "--pkvm", "--layout", "ordinary", "--events", "2000");
        Assert.Equal(0, code);
        Assert.Contains("fuzz v7.4 pkvm seed 1 layout ordinary", output, StringComparison.Ordinal);
        var (refused, _, err) = Run("fuzz", "--policy", "v5.14", "--pkvm", "--events", "100");
        Assert.Equal(2, refused);
        Assert.Contains("v6.18, v7.4", err, StringComparison.Ordinal);
    }

    [Fact]
    public void Explain_without_policy_uses_v7_4_and_names_its_functions()
    {
        var (code, output, _) = Run("explain", Example("nested-l2-guest.yaml"), "--ipa", "0x4000_0000");
        Assert.Equal(0, code);
        Assert.Contains("v7.4: guest", output, StringComparison.Ordinal);
        Assert.Contains("topup_mmu_memcache", output, StringComparison.Ordinal);
    }
}
