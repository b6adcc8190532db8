using System.Text;
using Stage2Lab.Cli;
using static Stage2Lab.Tests.Robustness.CliProcess;

namespace Stage2Lab.Tests.Robustness;

/// <summary>
/// Issue 12: every failure the malformed-input campaign found, fed again through the command line. Each ends
/// with exit 2 and FILE:LINE:COL: key.path (or exit 0 where the input is valid), without a stack trace.
/// </summary>
public class MalformedInputCliTests
{
    private static string Write(string dir, string name, string text)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static void AssertBadInput((int Code, string Out, string Err) r, string where, params string[] fragments)
    {
        Assert.True(r.Code == 2, $"exit {r.Code}, stderr: {r.Err}");
        Assert.Contains(where, r.Err);
        foreach (string f in fragments)
            Assert.Contains(f, r.Err);
        Assert.DoesNotContain("   at ", r.Err);
        Assert.DoesNotContain("Unhandled", r.Err);
    }

    [Fact]
    public void Yaml_nested_fifty_thousand_levels_is_refused_without_overflowing_the_stack()
    {
        string dir = TempDir();
        string path = Write(dir, "deep.yaml", "description: " + new string('[', 50_000) + new string(']', 50_000) + "\n");
        // Its own process: a stack overflow cannot be caught and would take the test host down.
        var r = Spawn("check", path);
        AssertBadInput(r, "deep.yaml:1:", "nested more than 64 levels");
    }

    [Fact]
    public void An_unclosed_flow_mapping_followed_by_a_line_is_a_syntax_error_with_a_position()
    {
        string dir = TempDir();
        string path = Write(dir, "unclosed.yaml", "a: {b: 1\nc: 2\n");
        var r = Spawn("check", path);
        AssertBadInput(r, "unclosed.yaml:1:", "not valid YAML/JSON");
    }

    [Fact]
    public void Empty_output_and_scenario_paths_are_usage_errors()
    {
        string example = Path.Combine(RepoPaths.Examples, "nic-small-bars-mmio.yaml");
        AssertBadInput(Spawn("run", example, "--out", ""), "--out needs a file name");
        AssertBadInput(InProcess("run", example, "--report", ""), "--report needs a file name");
        AssertBadInput(InProcess("run", ""), "the input path is empty");
        AssertBadInput(InProcess("check", ""), "the input path is empty");
        AssertBadInput(InProcess("explain", "", "--ipa", "0x1000"), "the input path is empty");
        AssertBadInput(InProcess("replay", ""), "the input path is empty");
        AssertBadInput(InProcess("fuzz", "--out", "", "--events", "10"), "--out needs a file name");
    }

    [Theory]
    [InlineData("s2ops", "granule 4K\nmap 0x1000 4K 0x2000 ", "")]
    [InlineData("s2faults", "ram 0x80000000 1G\nvma 0x7f0000000000 1G anon 0x80000000\nslot 0 0x40000000 1G 0x7f0000000000\naccess 0x40000000 ", "")]
    public void A_four_million_character_token_is_refused_by_the_line_bound(string kind, string prefix, string suffix)
    {
        string dir = TempDir();
        string path = Write(dir, "long." + kind, prefix + new string('r', 4_000_000) + suffix + "\n");
        int line = prefix.Count(c => c == '\n') + 1;
        var r = Spawn("replay", path);
        AssertBadInput(r, $"long.{kind}:{line}:", "line longer than 4096 bytes");
        Assert.True(r.Err.Length < 1000, "the message does not quote the token whole");
    }

    [Theory]
    [InlineData("s2ops", "map 0x1000 4K 0x2000 ", "PROT")]
    [InlineData("s2faults", "ram 0x80000000 1G\nvma 0x7f0000000000 1G anon 0x80000000\nslot 0 0x40000000 1G 0x7f0000000000\naccess 0x40000000 ", "bad access kind")]
    public void A_long_token_within_the_line_bound_is_refused_without_a_stack_copy(string kind, string prefix, string message)
    {
        string dir = TempDir();
        string path = Write(dir, "tok." + kind, prefix + new string('r', 4000) + "\n");
        var r = InProcess("replay", path);
        AssertBadInput(r, $"tok.{kind}:", message, "...");
    }

    [Fact]
    public void A_trace_from_dev_zero_or_without_newlines_fails_cleanly()
    {
        string dir = TempDir();
        string zero = Write(dir, "zero.yaml", Base + "timeline:\n  - workload: { pattern: trace, file: /dev/zero }\n");
        AssertBadInput(InProcess("run", zero), "zero.yaml:12:", "timeline[0].workload.file", "not a text file");
        File.WriteAllText(Path.Combine(dir, "long.csv"), new string('1', 2_000_000));
        string longLine = Write(dir, "long.yaml", Base + "timeline:\n  - workload: { pattern: trace, file: long.csv }\n");
        AssertBadInput(InProcess("run", longLine), "long.yaml:12:", "timeline[0].workload.file", "line longer than 1024 bytes");
    }

    [Fact]
    public void A_scenario_from_dev_zero_is_refused_by_its_size_bound()
    {
        AssertBadInput(InProcess("check", "/dev/zero"), "/dev/zero:", "larger than 16M");
    }

    [Fact]
    public void A_16_TiB_BAR_under_v5_13_is_refused_before_it_starts_with_the_limit()
    {
        string dir = TempDir();
        string path = Write(dir, "bar.yaml", Base.Replace("size: 1G } ]", "size: 16T } ]").Replace("device: bar }", "device: bar }").Replace("kind: pfnmap, start: 0x7000_0000_0000, size: 1G", "kind: pfnmap, start: 0x5000_0000_0000, size: 16T").Replace("ipa-bits: 40", "ipa-bits: 48, policies: [v5.13, v6.18]"));
        var r = InProcess("compare", path);
        AssertBadInput(r, "bar.yaml:10:5: memslots[1]", "v5.13", "kvm_phys_addr_ioremap", "limit");
        // Without v5.13 the same BAR is mapped on fault: valid, and quick.
        Assert.Equal(0, InProcess("run", path, "--policy", "v6.18").Code);
    }

    [Fact]
    public void A_run_whose_memory_estimate_exceeds_max_memory_is_refused_with_the_estimate()
    {
        string dir = TempDir();
        string path = Write(dir, "bar.yaml", Base.Replace("kind: pfnmap, start: 0x7000_0000_0000, size: 1G", "kind: pfnmap, start: 0x7000_0000_0000, size: 4G").Replace("size: 1G } ]", "size: 4G } ]").Replace("ipa-bits: 40", "ipa-bits: 48, policies: [v5.13]"));
        var r = InProcess("run", path, "--max-memory", "70M");
        AssertBadInput(r, "bar.yaml:10:5: memslots[1]", "would need about 72.", "MiB of page tables for mapping 4G", "the limit is 70.0 MiB", "--max-memory");
        AssertBadInput(InProcess("run", path, "--max-memory", "lots"), "--max-memory 'lots' is not a size");
        Assert.Equal(0, InProcess("run", path, "--max-memory", "1G", "--format", "json").Code);
    }

    [Fact]
    public void A_4_TiB_BAR_with_the_GC_heap_capped_is_refused_by_the_default_limit_not_out_of_memory()
    {
        string dir = TempDir();
        string path = Write(dir, "bar.yaml", Base.Replace("kind: pfnmap, start: 0x7000_0000_0000, size: 1G", "kind: pfnmap, start: 0x5000_0000_0000, size: 4T").Replace("size: 1G } ]", "size: 4T } ]").Replace("ipa-bits: 40", "ipa-bits: 48, policies: [v5.13]"));
        // The default limit is half of what the process may use, which a GC heap limit (or a container) lowers.
        var capped = new Dictionary<string, string> { ["DOTNET_GCHeapHardLimit"] = "0x20000000" };
        var r = Spawn(capped, "run", path);
        AssertBadInput(r, "bar.yaml:10:5: memslots[1]", "kvm_phys_addr_ioremap", "limit");
        Assert.DoesNotContain("OutOfMemory", r.Err);
        // 256 GiB is within the page-by-page limit, but its 512 MiB of tables are not within the capped heap's share.
        File.WriteAllText(path, File.ReadAllText(path).Replace("4T", "256G"));
        var r2 = Spawn(capped, "run", path);
        AssertBadInput(r2, "bar.yaml:10:5: memslots[1]", "would need about", "the limit is 256 MiB");
    }

    [Fact]
    public void An_unexpected_exception_is_an_internal_error_with_its_own_exit_code_never_one()
    {
        var stderr = new StringWriter();
        int code = CommandGuard.Run(stderr, () => throw new InvalidOperationException("boom"));
        Assert.Equal(ExitCodes.InternalError, code);
        Assert.NotEqual(ExitCodes.Failed, code);
        Assert.Contains("internal error while", stderr.ToString());
        Assert.Contains("please report it", stderr.ToString(), StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("   at ", stderr.ToString());
        Assert.Contains("70 internal error", ExitCodes.HelpText);
    }

    [Fact]
    public void Out_follows_a_symlink_to_its_target_and_keeps_the_link()
    {
        string dir = TempDir();
        string target = Write(dir, "target.json", "old");
        string link = Path.Combine(dir, "link.json");
        File.CreateSymbolicLink(link, "target.json");
        var r = InProcess("run", Path.Combine(RepoPaths.Examples, "nic-small-bars-mmio.yaml"), "--format", "json", "--out", link);
        Assert.Equal(0, r.Code);
        Assert.NotNull(new FileInfo(link).LinkTarget);
        Assert.Contains("stage2lab.result/3", File.ReadAllText(target));
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
    }

    private static string FileType(string path)
    {
        var info = new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%F", path]) { RedirectStandardOutput = true };
        using var p = System.Diagnostics.Process.Start(info)!;
        string type = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return type;
    }

    [Fact]
    public async Task Out_onto_a_fifo_or_a_device_writes_it_directly()
    {
        string dir = TempDir();
        string fifo = Path.Combine(dir, "pipe");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo]))
            await mkfifo.WaitForExitAsync();
        Assert.Equal("fifo", FileType(fifo));
        Task<string> reader = Task.Run(() => File.ReadAllTextAsync(fifo));
        var r = InProcess("run", Path.Combine(RepoPaths.Examples, "nic-small-bars-mmio.yaml"), "--format", "json", "--out", fifo);
        Assert.Equal(0, r.Code);
        Assert.Contains("stage2lab.result/3", await reader.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("fifo", FileType(fifo));
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));

        var devNull = InProcess("run", Path.Combine(RepoPaths.Examples, "nic-small-bars-mmio.yaml"), "--format", "json", "--out", "/dev/null");
        Assert.Equal(0, devNull.Code);
        Assert.Equal("character special file", FileType("/dev/null"));
    }

    [Fact]
    public void Out_dev_stdout_writes_to_standard_output()
    {
        var r = Spawn("run", Path.Combine(RepoPaths.Examples, "nic-small-bars-mmio.yaml"), "--format", "json", "--out", "/dev/stdout");
        Assert.Equal(0, r.Code);
        Assert.Contains("stage2lab.result/3", r.Out);
    }

    [Fact]
    public void An_explicit_teardown_after_a_1G_block_checks_clean_under_every_policy()
    {
        string dir = TempDir();
        string path = Write(dir, "td.yaml", """
            host: { ram: [ { base: 0x8000_0000, size: 8G } ] }
            mappings:
              - { name: r, kind: hugetlb, huge-page-size: 1G, start: 0x7f00_0000_0000, size: 2G }
            vm: { ipa-bits: 40 }
            memslots:
              - { id: 0, ipa: 0x4000_0000, mapping: r }
            timeline:
              - access: { ipa: 0x4000_0000, kind: write }
              - teardown: {}
            """);
        var r = InProcess("check", path);
        Assert.True(r.Code == 0, r.Out + r.Err);
        Assert.DoesNotContain("TableRefcounts", r.Out);
        Assert.Equal(Stage2Lab.Kvm.Policies.PolicyRegistry.ComparedNames.Count, r.Out.Split('\n').Count(l => l.Contains(" ok: ", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("host.ram[0].base", "base: 0x8000_0000, size: 16G", "base: 0x1_0000_0000_0000, size: 16G", "2^48")]
    [InlineData("host.ram[0].base", "base: 0x8000_0000, size: 16G", "base: 0xffff_0000_0000, size: 16G", "2^48")]
    [InlineData("host.devices[0].base", "base: 0x100_0000_0000, size: 1G", "base: 0xffff_ffff_c000_0000, size: 2G", "2^48")]
    [InlineData("mappings[0].pa", "size: 1G }\n  - { name: bar", "size: 1G, pa: 0xffff_ffff_c000_0000 }\n  - { name: bar", "2^48")]
    [InlineData("mappings[0].pa", "size: 1G }\n  - { name: bar", "size: 1G, pa: 0xffff_e000_0000 }\n  - { name: bar", "2^48")]
    [InlineData("mappings[1].pgoff", "device: bar }", "pgoff: 0xffff_ffff_ffff }", "2^48")]
    [InlineData("mappings[1].device-offset", "device: bar }", "device: bar, device-offset: 0xffff_ffff_ffff_0000 }", "device-offset")]
    [InlineData("mappings[1]", "device: bar }", "device: bar, device-offset: 0xc000_0000 }", "runs past the end of device region")]
    [InlineData("mappings[1].pieces[0].size", "device: bar }", "device: bar, pieces: [ { offset: 0, size: 0x20_0000_0000_0000, pa: 0x1000 } ] }", "inside the mapping")]
    [InlineData("mappings[1].pieces[0].pa", "device: bar }", "device: bar, pieces: [ { offset: 0, size: 4K, pa: 0xffff_ffff_ffff_f000 } ] }", "2^48")]
    [InlineData("memslots[0].offset", "mapping: ram }", "mapping: ram, offset: 2G }", "not inside mapping")]
    public void Out_of_range_physical_addresses_and_offsets_are_refused_with_the_key_path(string path, string from, string to, string message)
    {
        string dir = TempDir();
        Assert.Contains(from, Base);
        string file = Write(dir, "s.yaml", Base.Replace(from, to));
        AssertBadInput(InProcess("check", file, "--policies", "v6.18"), $": {path}", message);
    }

    [Theory]
    [InlineData("  - workload: { pattern: random, ipa: 0x4000_0000, size: 0x20_0000_0000_0000, count: 10 }", "timeline[0].workload.size", "2^52")]
    [InlineData("  - workload: { pattern: zipf, slot: 0, count: 10, skew: NaN }", "timeline[0].workload.skew", "not a number")]
    [InlineData("  - workload: { pattern: zipf, slot: 0, count: 10, skew: .inf }", "timeline[0].workload.skew", "not a number")]
    [InlineData("  - workload: { pattern: random, slot: 0, count: 0x100_0000_0000 }", "timeline[0].workload.count", "limit of 1,000,000,000")]
    [InlineData("  - workload: { pattern: sequential, ipa: 0, size: 0x10_0000_0000_0000, stride: 1 }", "timeline[0].workload.stride", "limit of 1,000,000,000")]
    [InlineData("  - workload: { pattern: strided, slot: 0, stride: 0x20_0000_0000_0000 }", "timeline[0].workload.stride", "2^52")]
    [InlineData("  - workload: { pattern: random, slot: 0, count: 600000000 }\n  - workload: { pattern: random, slot: 0, count: 600000000 }", "timeline[1].workload", "limit of 1,000,000,000")]
    [InlineData("  - munmap: { hva: 0xffff_ffff_ffff_f000, size: 8K }", "timeline[0].munmap.size", "wraps")]
    [InlineData("  - age: { mapping: bar, size: 0x20_0000_0000_0000 }", "timeline[0].age.size", "2^52")]
    public void Timeline_values_beyond_the_limits_are_refused_with_the_key_path(string timeline, string path, string message)
    {
        string dir = TempDir();
        string file = Write(dir, "t.yaml", Base + "timeline:\n" + timeline + "\n");
        AssertBadInput(InProcess("check", file, "--policies", "v6.18"), $": {path}", message);
    }

    [Fact]
    public void Explain_event_beyond_int_says_what_was_expected_not_a_type_name()
    {
        var r = InProcess("explain", Path.Combine(RepoPaths.Examples, "nic-small-bars-mmio.yaml"), "--ipa", "0x1000", "--event", "99999999999");
        AssertBadInput(r, "--event", "whole number");
        Assert.DoesNotContain("System.", r.Err);
        Assert.DoesNotContain("System.", InProcess("fuzz", "--seed", "-1").Err);
        AssertBadInput(InProcess("fuzz", "--seconds", "NaN"), "--seconds must be finite");
    }

    [Fact]
    public void A_fault_script_with_a_physical_address_above_2_48_is_refused()
    {
        string dir = TempDir();
        string ram = Write(dir, "ram.s2faults", "ram 0x1000000000000 1G\n");
        AssertBadInput(InProcess("replay", ram), "ram.s2faults:1:", "2^48");
        string vma = Write(dir, "vma.s2faults", "ram 0x80000000 1G\nvma 0x7f0000000000 1G pfnmap 0xfffffffff\n");
        AssertBadInput(InProcess("replay", vma), "vma.s2faults:2:", "2^48");
        string remap = Write(dir, "remap.s2faults", "ram 0x80000000 1G\nvma 0x7f0000000000 1G pfnmap 0x100000\nremap 0x7f0000000000 4K 0xfffffffff000\nremap 0x7f0000000000 4K 0x1000000000000\n");
        AssertBadInput(InProcess("replay", remap), "remap.s2faults:4:", "2^48");
    }

    [Fact]
    public void Scripts_that_would_map_trillions_of_pages_one_by_one_are_refused_with_the_limit()
    {
        string dir = TempDir();
        // 256 TiB with a PA that is not 2M-congruent with the IPA: 2^36 pages, hours and 512 GiB of tables.
        string ops = Write(dir, "huge.s2ops", "granule 4K\nipa-bits 48\nmap 0x0 0xfffffffff000 0x1000 rw\n");
        AssertBadInput(InProcess("replay", ops), "huge.s2ops:3:", "268,435,456 pages mapped one by one");
        // v5.13 ioremaps a 16 TiB VM_PFNMAP slot page by page at creation.
        string faults = Write(dir, "huge.s2faults", "granule 4K\nipa-bits 48\npolicy v5.13\nram 0x80000000 1G\nvma 0x100000000000 0x100000000000 pfnmap 0x100000\nslot 0 0 0x100000000000 0x100000000000\n");
        AssertBadInput(InProcess("replay", faults), "huge.s2faults:6:", "under v5.13", "kvm_phys_addr_ioremap");
        // The same slot under v6.18 maps nothing at creation: valid.
        string newer = Write(dir, "newer.s2faults", File.ReadAllText(faults).Replace("policy v5.13", "policy v6.18"));
        Assert.Equal(0, InProcess("replay", newer).Code);
    }

    [Fact]
    public void Thirty_two_thousand_memslots_are_created_and_listed()
    {
        string dir = TempDir();
        var text = new StringBuilder("host: { ram: [ { base: 0x8000_0000, size: 4G } ] }\n");
        text.Append("mappings: [ { name: r, kind: anon, start: 0x7f00_0000_0000, size: 2G } ]\nvm: { policies: [v6.18] }\nmemslots:\n");
        var order = Enumerable.Range(0, 32_764).ToArray();
        new Random(12).Shuffle(order);
        foreach (int i in order)
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"  - {{ id: {i}, ipa: 0x{0x4000_0000 + i * 0x10000:x}, hva: 0x{0x7f00_0000_0000 + (long)i * 0x10000:x}, size: 4K }}\n");
        text.Append("timeline:\n  - access: { ipa: 0x47ff_c000, kind: read }\n");
        string file = Write(dir, "slots.yaml", text.ToString());
        var r = InProcess("run", file, "--format", "json");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("\"memslots\"", r.Out);
    }
}
