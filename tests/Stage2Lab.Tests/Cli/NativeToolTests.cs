using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Stage2Lab.Cli;
using Stage2Lab.Simulation.Fuzzing;
using Stage2Lab.Simulation.Invariants;
using static Stage2Lab.Tests.Robustness.CliProcess;

namespace Stage2Lab.Tests.Cli;

/// <summary>
/// Issue 11, "a tool that feels native": each item a new user tripped over, through the command line as its own
/// process (a terminal where the item is about one: util-linux's `script` gives a pseudo-terminal).
/// </summary>
public class NativeToolTests
{
    private static readonly Dictionary<string, string> NoEnv = new();

    private static string Example(string name) => Path.Combine(RepoPaths.Examples, name);

    private static string Script => Path.Combine(RepoPaths.FaultGolden, "named-bar-vma-ends-mid-block.s2faults");

    private static int FirstAccessLine(string script) =>
        File.ReadAllLines(script).Select((l, i) => (l, i)).First(x => x.l.StartsWith("access", StringComparison.Ordinal)).i + 1;

    private static void AssertUsage((int Code, string Out, string Err) r, params string[] fragments)
    {
        Assert.True(r.Code == 2, $"exit {r.Code}; stderr: {r.Err}");
        foreach (string f in fragments)
            Assert.Contains(f, r.Err);
        Assert.DoesNotContain("   at ", r.Err);
    }

    // 1. explain FILE.s2faults --line N takes --format and --out, and refuses what a script line has no use for.
    [Fact]
    public void Item01_explain_of_a_script_line_honours_format_and_out_and_refuses_the_rest()
    {
        string line = FirstAccessLine(Script).ToString(CultureInfo.InvariantCulture);
        var json = Spawn("explain", Script, "--line", line, "--format", "json");
        Assert.Equal(0, json.Code);
        using (JsonDocument doc = JsonDocument.Parse(json.Out))
        {
            Assert.Equal("stage2lab.script-decision/1", doc.RootElement.GetProperty("schema").GetString());
            Assert.Equal(int.Parse(line, CultureInfo.InvariantCulture), doc.RootElement.GetProperty("line").GetInt32());
            Assert.Equal("mapped", doc.RootElement.GetProperty("decision").GetProperty("outcome").GetString());
        }
        var markdown = Spawn("explain", Script, "--line", line, "--format", "markdown");
        Assert.StartsWith("```\n", markdown.Out, StringComparison.Ordinal);

        string dir = TempDir();
        string outFile = Path.Combine(dir, "line.txt");
        var written = Spawn("explain", Script, "--line", line, "--out", outFile);
        Assert.Equal(0, written.Code);
        Assert.Equal("", written.Out);
        Assert.Contains("get_vma_page_shift", File.ReadAllText(outFile));

        AssertUsage(Spawn("explain", Script, "--line", line, "--report", Path.Combine(dir, "r.html")), "--report does not apply to an .s2faults script");
        AssertUsage(Spawn("explain", Script, "--line", line, "--event", "1"), "--event does not apply to an .s2faults script");
        AssertUsage(Spawn("explain", Script, "--line", line, "--ipa", "0x1000"), "--ipa does not apply");
        AssertUsage(Spawn("explain", Example("nic-small-bars-mmio.yaml"), "--ipa", "0x1000", "--line", "3"), "--line does not apply to a scenario");
        Assert.False(File.Exists(Path.Combine(dir, "r.html")));
    }

    // 2. --seconds alone is the limit (no hidden 200,000-event budget).
    [Fact]
    public void Item02_seconds_alone_is_the_only_limit()
    {
        Assert.Equal((0L, 60.0, 0L), FuzzCommand.Limits(null, 60));
        Assert.Equal((FuzzCommand.DefaultEvents, 0.0, 0L), FuzzCommand.Limits(null, null));
        Assert.Equal((5000L, 0.0, 0L), FuzzCommand.Limits(5000, null));
        Assert.Equal((5000L, 2.0, 0L), FuzzCommand.Limits(5000, 2));
        Assert.Equal((0L, 0.0, 300L), FuzzCommand.Limits(null, null, 300)); // --cases alone is the only limit
        var r = Spawn("fuzz", "--policy", "v6.18", "--layout", "ordinary", "--seconds", "1.5");
        Assert.Equal(0, r.Code);
        Match m = Regex.Match(r.Out, @"events in ([0-9.]+) s");
        Assert.True(m.Success, r.Out);
        Assert.True(double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) >= 1.45, r.Out);
    }

    // 3. Progress: one line per policy reaching 100%, time-based for a time-limited fuzz, nothing off a terminal.
    [Fact]
    public void Item03_progress_on_a_terminal_is_honest_and_absent_elsewhere()
    {
        var (code, screen) = OnTerminal(100, NoEnv, "compare", Example("live-migration.yaml"), "--policies", "v5.14", "v6.18");
        Assert.Equal(0, code);
        string plain = Plain(screen);
        foreach (string policy in new[] { "v5.14", "v6.18" })
        {
            var shown = Percentages(plain, policy);
            Assert.True(shown.Count > 0, $"no progress line for {policy}:\n{plain}");
            Assert.Equal(100, shown[^1]);
        }

        var (fuzzCode, fuzzScreen) = OnTerminal(100, NoEnv, "fuzz", "--policy", "v6.18", "--layout", "ordinary", "--seconds", "2", "--events", "0");
        Assert.Equal(0, fuzzCode);
        var fuzz = Percentages(Plain(fuzzScreen), "fuzz v6.18");
        Assert.True(fuzz.Count >= 4, "a time-limited campaign moves with the clock: " + string.Join(' ', fuzz));
        Assert.True(fuzz[0] < 50, "not 100% from the first draw: " + string.Join(' ', fuzz));
        Assert.Equal(fuzz.Order().ToList(), fuzz);
        Assert.Equal(100, fuzz[^1]);

        var piped = Spawn("compare", Example("live-migration.yaml"), "--policies", "v5.14", "v6.18");
        Assert.Equal(0, piped.Code);
        Assert.Equal("", piped.Err);
    }

    private static List<int> Percentages(string plain, string label) =>
        [.. plain.Split('\n').Where(l => l.StartsWith(label + " ", StringComparison.Ordinal))
            .Select(l => Regex.Match(l, @"(\d+)%")).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))];

    // 4. --invariant takes an invariant's name, not a number that happens to parse as the enum.
    [Fact]
    public void Item04_invariant_must_be_a_name()
    {
        AssertUsage(Spawn("fuzz", "--invariant", "99", "--events", "10"), "'99'", "LeafInOneVma");
        Assert.Equal(0, Spawn("fuzz", "--invariant", "LeafInOneVma", "--policy", "v6.18", "--layout", "ordinary", "--events", "500").Code);
    }

    // 5. The default reproducer name carries every option that changes what a campaign finds.
    [Fact]
    public void Item05_reproducer_names_differ_by_invariant_layout_and_pkvm()
    {
        string plain = FuzzCommand.ReproducerName("v5.9", Stage2Lab.Kvm.VmFlavor.Kvm, 1, FuzzLayout.Any, null);
        string names = string.Join(" ", new[]
        {
            plain,
            FuzzCommand.ReproducerName("v5.9", Stage2Lab.Kvm.VmFlavor.Kvm, 1, FuzzLayout.Any, InvariantKind.LeafInOneVma),
            FuzzCommand.ReproducerName("v5.9", Stage2Lab.Kvm.VmFlavor.Kvm, 1, FuzzLayout.Any, InvariantKind.PaMatchesHost),
            FuzzCommand.ReproducerName("v5.9", Stage2Lab.Kvm.VmFlavor.Kvm, 1, FuzzLayout.Ordinary, null),
            FuzzCommand.ReproducerName("v5.9", Stage2Lab.Kvm.VmFlavor.Pkvm, 1, FuzzLayout.Any, null),
        });
        Assert.Equal("fuzz-v5.9-seed-1.yaml", plain);
        Assert.Equal(5, names.Split(' ').Distinct().Count());

        string dir = TempDir();
        var r = SpawnWith(NoEnv, dir, null, "fuzz", "--policy", "bug-log-blocks", "--layout", "ordinary", "--invariant", "LoggingSlotLeaves", "--events", "20000");
        Assert.Equal(1, r.Code);
        string expected = "fuzz-bug-log-blocks-seed-1-layout-ordinary-LoggingSlotLeaves.yaml";
        Assert.True(File.Exists(Path.Combine(dir, expected)), r.Out);
        Assert.Contains($"--invariant LoggingSlotLeaves", File.ReadAllText(Path.Combine(dir, expected)));
    }

    // 6. Typos get System.CommandLine's own suggestions and the subcommand's help, with exit code 2.
    [Fact]
    public void Item06_typos_get_suggestions_and_the_subcommands_help()
    {
        var option = Spawn("run", Example("nic-small-bars-mmio.yaml"), "--polcy", "v6.18");
        AssertUsage(option, "'--polcy' was not matched. Did you mean", "--policy", "s2lab run <scenario> [options]");
        Assert.Equal("", option.Out);
        var command = Spawn("runn");
        AssertUsage(command, "'runn' was not matched. Did you mean", "run");
        var value = Spawn("explain", Example("nic-small-bars-mmio.yaml"), "--ipa", "0x1000", "--event", "99999999999");
        AssertUsage(value, "--event: '99999999999' is not a whole number");
        Assert.DoesNotContain("System.", value.Err);
    }

    // 7. --policies takes names one after another or comma-separated, and leaves the scenario alone.
    [Fact]
    public void Item07_policies_in_both_forms_keep_the_file_argument()
    {
        foreach (string[] args in new[]
        {
            new[] { "compare", "--policies", "v5.13", "v6.18", Example("nic-small-bars-mmio.yaml"), "--format", "markdown" },
            new[] { "compare", "--policies", "v5.13,v6.18", Example("nic-small-bars-mmio.yaml"), "--format", "markdown" },
            new[] { "compare", Example("nic-small-bars-mmio.yaml"), "--policies", "v5.13", "v6.18", "--format", "markdown" },
        })
        {
            var r = InProcess(args);
            Assert.True(r.Code == 0, r.Err);
            Assert.Contains("| v5.13 | v6.18 |", r.Out);
        }
        Assert.Equal(0, InProcess("check", "--policies", "v6.18", Example("nic-small-bars-mmio.yaml")).Code);
        AssertUsage(Spawn("compare", "--policies", "v5.13,v6.81", Example("nic-small-bars-mmio.yaml")), "'v6.81' is not a policy", "v6.18");
        AssertUsage(Spawn("compare", "--policies", "v5.13"), "compare needs a scenario file");
    }

    // 8. Output paths are checked before the work; a late failure still prints the result.
    [Fact]
    public void Item08_output_paths_are_checked_first_and_a_late_failure_keeps_the_result()
    {
        var report = Spawn("run", Example("gpu-32g-bar-aligned.yaml"), "--report", "/nonexistent/r.html");
        AssertUsage(report, "--report /nonexistent/r.html", "the folder /nonexistent does not exist");
        Assert.DoesNotContain(".tmp", report.Err);
        Assert.Equal("", report.Out);
        AssertUsage(Spawn("fuzz", "--out", "/nonexistent/x.yaml", "--events", "10"), "--out /nonexistent/x.yaml", "does not exist");
        AssertUsage(Spawn("import", "--maps", "/nonexistent/maps", "--out", "/nonexistent/x.yaml"), "--out /nonexistent/x.yaml");
        AssertUsage(Spawn("compare", Example("nic-small-bars-mmio.yaml"), "--out", TempDir()), "is a folder");

        // /proc/version passes the check (a special file is written in place) but refuses the write: the run's
        // result is still printed, the failure named, and the exit code is the worse one.
        var late = Spawn("run", Example("bugs/v6.18-block-past-vma-end.yaml"), "--check", "--report", "/proc/version");
        Assert.Equal(2, late.Code);
        Assert.Contains("phase by phase", late.Out);
        Assert.Contains("cannot write /proc/version", late.Err.Replace("s2lab: ", "", StringComparison.Ordinal));
        var lateOut = Spawn("run", Example("nic-small-bars-mmio.yaml"), "--format", "json", "--out", "/proc/version");
        Assert.Equal(2, lateOut.Code);
        Assert.Contains("\"schema\": \"stage2lab.result/3\"", lateOut.Out);
        Assert.Contains("the result is on standard output instead", lateOut.Err);
    }

    // 9. The kind of a file is recognised by its content; stdin works for scenarios; a missing file says so.
    [Fact]
    public void Item09_the_wrong_kind_of_file_says_what_it_is_and_what_to_run()
    {
        string s2ops = Example("bar-1g-block-vs-pages.s2ops");
        AssertUsage(Spawn("run", s2ops), "is an .s2ops page-table script, not a scenario", $"s2lab replay {s2ops}");
        AssertUsage(Spawn("replay", Example("nic-small-bars-mmio.yaml")), "is a scenario (YAML/JSON), not a script", "s2lab run");
        AssertUsage(Spawn("check", Script), "is an .s2faults fault script", "s2lab explain");
        AssertUsage(Spawn("explain", s2ops, "--ipa", "0x1000"), "s2lab replay");

        // A scenario and an .s2faults script on standard input, and a copy of a script with a .yaml name.
        var scenario = SpawnWith(NoEnv, null, File.ReadAllText(Example("nic-small-bars-mmio.yaml")), "run", "-", "--policy", "v6.18", "--format", "json");
        Assert.True(scenario.Code == 0, scenario.Err);
        Assert.Contains("\"file\": \"<stdin>\"", scenario.Out);
        var faults = SpawnWith(NoEnv, null, File.ReadAllText(Script), "replay", "-");
        Assert.True(faults.Code == 0, faults.Err);
        Assert.Contains(" ok", faults.Out);
        string misnamed = Path.Combine(TempDir(), "script.yaml");
        File.Copy(Script, misnamed);
        AssertUsage(Spawn("compare", misnamed), "is an .s2faults fault script");

        var missing = Spawn("run", "/nonexistent/x.yaml");
        AssertUsage(missing, "/nonexistent/x.yaml: no such file");
        Assert.DoesNotContain(":0:0", missing.Err);
    }

    // 10. The default policy is the newest kernel, never a proposal (host-pte) or a buggy variant.
    [Fact]
    public void Item10_run_without_policy_takes_the_newest_kernel()
    {
        var r = InProcess("run", Example("gpu-32g-bar-aligned.yaml"), "--format", "json");
        using JsonDocument doc = JsonDocument.Parse(r.Out);
        JsonElement run = doc.RootElement.GetProperty("policies")[0];
        Assert.Equal(Stage2Lab.Kvm.Policies.PolicyRegistry.NewestKernel.Name, run.GetProperty("policy").GetString());
        Assert.Equal("kernel", run.GetProperty("kind").GetString());
    }

    // 11. One representative decision per kind, with its count: BAR faults, RAM faults, v5.13's slot creation, MMIO.
    [Fact]
    public void Item11_run_shows_one_decision_per_kind_with_its_count()
    {
        var v513 = InProcess("run", Example("gpu-32g-bar-aligned.yaml"), "--policy", "v5.13");
        Assert.Equal(0, v513.Code);
        var headings = v513.Out.Split('\n').Where(l => l.StartsWith('[')).ToList();
        Assert.Equal(headings.Distinct().Count(), headings.Count);
        Assert.Contains(headings, h => h.Contains("slot creation (event 0): 1 memslot ioctl like this", StringComparison.Ordinal));
        Assert.Contains(headings, h => h.Contains("8,192 faults like this", StringComparison.Ordinal));
        var mmio = InProcess("run", Example("nic-small-bars-mmio.yaml"), "--policy", "v6.18", "--format", "markdown");
        Assert.Contains("**", mmio.Out);
        Assert.Contains("=> exit to the VMM (KVM_EXIT_MMIO)", mmio.Out);
        Assert.Contains("faults like this", mmio.Out);
    }

    // 13. Spectre detects the terminal's width and colours (NO_COLOR honoured); piped lines are never wrapped.
    [Fact]
    public void Item13_tables_fit_the_terminal_honour_no_color_and_never_wrap_a_pipe()
    {
        var (code, screen) = OnTerminal(80, NoEnv, "run", Example("gpu-32g-bar-aligned.yaml"), "--policy", "v7.4");
        Assert.Equal(0, code);
        var tableLines = Plain(screen).Split('\n').Where(l => l.StartsWith('│') || l.StartsWith('╭') || l.StartsWith('╰')).ToList();
        Assert.NotEmpty(tableLines);
        Assert.All(tableLines, l => Assert.True(l.TrimEnd().Length <= 80, $"{l.Length} columns: {l}"));
        Assert.Matches("\u001b\\[[0-9;]*m", screen);
        var (_, noColor) = OnTerminal(80, new Dictionary<string, string> { ["NO_COLOR"] = "1" }, "run", Example("gpu-32g-bar-aligned.yaml"), "--policy", "v7.4");
        Assert.DoesNotMatch("\u001b\\[(?:[0-9;]*;)?(?:3[0-7]|38;5;[0-9]+|9[0-7])m", noColor);

        var piped = Spawn("run", Example("gpu-32g-bar-aligned.yaml"), "--policy", "v7.4");
        var lines = piped.Out.Split('\n');
        // Every table (run prints the phases, then the guest TLB's) keeps its width on every line.
        string top = "";
        foreach (string l in lines)
        {
            if (l.StartsWith('╭'))
                top = l;
            else if (l.StartsWith('│') || l.StartsWith('├') || l.StartsWith('╰'))
                Assert.Equal(top.Length, l.Length);
        }
        Assert.Equal(2, lines.Count(l => l.StartsWith('╭')));
        Assert.Contains(lines, l => l.StartsWith("v7.4: kvmarm/next", StringComparison.Ordinal) && l.EndsWith("guest_memfd", StringComparison.Ordinal));
        Assert.DoesNotContain("\u001b[", piped.Out);
    }

    // 14. explain says what it picked and why; a line past the end of a script is an error.
    [Fact]
    public void Item14_explain_says_what_it_picked_and_why()
    {
        var r = Spawn("explain", Example("gpu-32g-bar-aligned.yaml"), "--ipa", "0x80_0000_0000", "--event", "1", "--policy", "v6.18");
        Assert.Equal(0, r.Code);
        Assert.StartsWith("picked: no fault during event 1 (boot) touched or mapped this IPA; shown instead: the first fault", r.Out, StringComparison.Ordinal);
        Assert.Contains("driver (event 2), access #", r.Out);
        var asked = Spawn("explain", Example("gpu-32g-bar-aligned.yaml"), "--ipa", "0x80_0000_0000", "--event", "2", "--policy", "v6.18", "--format", "json");
        using (JsonDocument doc = JsonDocument.Parse(asked.Out))
        {
            JsonElement e = doc.RootElement.GetProperty("policies")[0].GetProperty("explained");
            Assert.Equal(2, e.GetProperty("event").GetInt32());
            Assert.Equal(2, e.GetProperty("askedEvent").GetInt32());
            Assert.False(e.GetProperty("outsideAskedEvent").GetBoolean());
            Assert.Contains("(asked: event 2 (driver))", e.GetProperty("note").GetString());
        }
        var report = Path.Combine(TempDir(), "e.html");
        Assert.Equal(0, Spawn("explain", Example("gpu-32g-bar-aligned.yaml"), "--ipa", "0x80_0000_0000", "--event", "1", "--policy", "v6.18", "--report", report).Code);
        Assert.Contains("<b>Picked:</b> no fault during event 1 (boot)", File.ReadAllText(report));

        int lines = File.ReadAllLines(Script).Length;
        AssertUsage(Spawn("explain", Script, "--line", "99"), $"--line 99 is past the end of the script, which has {lines} line(s)");
        AssertUsage(Spawn("explain", Script, "--line", "1"), ":1: not an access line (it is '");
    }

    // 17. The tool: examples written out; exit codes said once (CliTests); replay's --format is now --kind.
    [Fact]
    public void Item17_examples_are_shipped_and_replay_takes_kind_not_format()
    {
        string dir = TempDir();
        var r = Spawn("examples", dir);
        Assert.Equal(0, r.Code);
        string[] shipped = [.. Directory.GetFiles(RepoPaths.Examples, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(RepoPaths.Examples, f)).Order(StringComparer.Ordinal)];
        string[] written = [.. Directory.GetFiles(dir, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(dir, f)).Order(StringComparer.Ordinal)];
        Assert.Equal(shipped, written);
        Assert.Equal(File.ReadAllBytes(Example("bugs/bug-log-blocks.yaml")), File.ReadAllBytes(Path.Combine(dir, "bugs", "bug-log-blocks.yaml")));
        Assert.Equal(1, Spawn("check", Path.Combine(dir, "bugs", "bug-log-blocks.yaml")).Code);
        Assert.Equal(0, Spawn("examples", dir).Code); // the same files again: nothing to overwrite
        File.AppendAllText(Path.Combine(dir, "ram-16g-thp.yaml"), "# changed\n");
        AssertUsage(Spawn("examples", dir), "ram-16g-thp.yaml", "--force");
        Assert.Equal(0, Spawn("examples", dir, "--force").Code);

        var kind = SpawnWith(NoEnv, null, "granule 4K\n", "replay", "-", "--kind", "s2faults", "--stats");
        Assert.True(kind.Code == 0, kind.Err);
        AssertUsage(Spawn("replay", Script, "--format", "s2faults"), "--format");
    }
}
