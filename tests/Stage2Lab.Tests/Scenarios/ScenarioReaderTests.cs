using Stage2Lab.Arch;
using Stage2Lab.Host;
using Stage2Lab.Kvm.Policies;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Tests.Scenarios;

public class ScenarioReaderTests
{
    private const string Minimal = """
        host:
          ram:
            - { base: 0x8000_0000, size: 1G }
        mappings:
          - { name: ram, kind: anon, start: 0x7f00_0000_0000, size: 64M }
        memslots:
          - { id: 0, ipa: 0x4000_0000, mapping: ram }
        timeline:
          - workload: { pattern: sequential, slot: 0 }
        """;

    [Fact]
    public void Every_bundled_example_loads_and_builds_its_host()
    {
        string[] files = Directory.GetFiles(RepoPaths.Examples, "*.yaml");
        Assert.True(files.Length >= 9);
        foreach (string file in files)
        {
            Scenario s = ScenarioReader.Load(file);
            Assert.NotEmpty(s.Memslots);
            HostBuilder.Build(s);
        }
    }

    [Fact]
    public void Sizes_accept_hex_underscores_and_suffixes()
    {
        Scenario s = ScenarioReader.Parse(Minimal, "t.yaml");
        Assert.Equal(0x8000_0000UL, s.Host.Ram[0].Base);
        Assert.Equal(1UL << 30, s.Host.Ram[0].SizeBytes);
        Assert.Equal(64UL << 20, s.Memslots[0].SizeBytes);
        Assert.Equal(0x7f00_0000_0000UL, s.Memslots[0].Hva);
        Assert.Equal(Granule.Size4K, s.Host.PageSize);
        Assert.Equal(PolicyRegistry.ComparedNames, s.Vm.Policies); // every kernel and proposal by default (v7.4 included)
    }

    [Fact]
    public void Json_is_the_same_model()
    {
        const string json = """
            { "host": { "ram": [ { "base": "0x80000000", "size": "1G" } ] },
              "mappings": [ { "name": "ram", "kind": "anon", "start": "0x7f0000000000", "size": "64M" } ],
              "memslots": [ { "id": 0, "ipa": "0x40000000", "mapping": "ram" } ],
              "timeline": [ { "workload": { "pattern": "sequential", "slot": 0 } } ] }
            """;
        Scenario fromJson = ScenarioReader.Parse(json, "t.json");
        Scenario fromYaml = ScenarioReader.Parse(Minimal, "t.yaml");
        Assert.Equal(fromYaml.Memslots[0].SizeBytes, fromJson.Memslots[0].SizeBytes);
        Assert.Equal(fromYaml.Mappings[0].Start, fromJson.Mappings[0].Start);
        Assert.IsType<WorkloadEvent>(fromJson.Timeline[0]);
    }

    [Fact]
    public void An_unknown_key_names_line_column_path_and_a_suggestion()
    {
        string text = Minimal.Replace("{ id: 0, ipa: 0x4000_0000, mapping: ram }", "{ id: 0, ipa: 0x4000_0000, mapping: ram, sise: 4K }");
        var ex = Assert.Throws<ScenarioException>(() => ScenarioReader.Parse(text, "t.yaml"));
        ScenarioError e = Assert.Single(ex.Errors);
        Assert.Equal(7, e.Line);
        Assert.Equal("memslots[0].sise", e.Path);
        Assert.Contains("did you mean 'size'", e.Message);
        Assert.StartsWith("t.yaml:7:", e.ToString());
    }

    [Fact]
    public void All_errors_of_a_file_are_reported_together()
    {
        const string text = """
            host:
              page-size: 8K
              ram:
                - { base: 0x8000_0000, size: lots }
            vm:
              ipa-bits: 60
              policies: [v6.18, v9.99]
            memslots:
              - { id: 0, ipa: 0x4000_0000, mapping: nope }
            timeline:
              - workload: { pattern: random, slot: 0, mix: { read: 50, write: 20 } }
            """;
        var ex = Assert.Throws<ScenarioException>(() => ScenarioReader.Parse(text, "bad.yaml"));
        string all = string.Join("\n", ex.Errors);
        Assert.Contains("host.page-size: '8K' is not valid", all);
        Assert.Contains("host.ram[0].size: 'lots' is not a number", all);
        Assert.Contains("vm.ipa-bits: 60 is out of range; expected 32..48", all);
        Assert.Contains("vm.policies[1]: 'v9.99' is not valid", all);
        Assert.Contains("no mapping named 'nope'", all);
        Assert.True(ex.Errors.Count >= 5, all);
    }

    [Fact]
    public void A_mix_that_does_not_add_up_and_a_random_workload_without_count_are_errors()
    {
        string text = Minimal.Replace("- workload: { pattern: sequential, slot: 0 }", "- workload: { pattern: random, slot: 0, mix: { read: 50, write: 20 } }");
        var ex = Assert.Throws<ScenarioException>(() => ScenarioReader.Parse(text, "t.yaml"));
        string all = string.Join("\n", ex.Errors);
        Assert.Contains("the percentages must add up to 100", all);
        Assert.Contains("needs 'count'", all);
    }

    [Fact]
    public void Absurd_sizes_are_refused_with_what_they_would_need()
    {
        string text = Minimal.Replace("{ id: 0, ipa: 0x4000_0000, mapping: ram }", "{ id: 0, ipa: 0x4000_0000, hva: 0x7f00_0000_0000, size: 0x1000000000000000 }");
        var ex = Assert.Throws<ScenarioException>(() => ScenarioReader.Parse(text, "t.yaml"));
        Assert.Contains(ex.Errors, e => e.Message.Contains("absurd") && e.Message.Contains("dirty bitmap"));
    }

    [Fact]
    public void Host_refusals_point_at_the_mapping_line()
    {
        const string text = """
            host:
              ram:
                - { base: 0x8000_0000, size: 1G }
              devices:
                - { name: bar, base: 0x9000_0000, size: 1M }
            mappings:
              - { name: a, kind: anon, start: 0x7f00_0000_0000, size: 64M }
              - { name: b, kind: anon, start: 0x7f00_0200_0000, size: 64M }
            """;
        Scenario s = ScenarioReader.Parse(text, "t.yaml");
        var ex = Assert.Throws<ScenarioException>(() => HostBuilder.Build(s));
        Assert.Contains(ex.Errors, e => e.Message.Contains("overlaps RAM"));
        Assert.Contains(ex.Errors, e => e.Line == 8 && e.Message.Contains("overlaps VMA"));
    }

    [Fact]
    public void A_trace_file_is_read_with_its_line_numbers_in_errors()
    {
        string dir = Directory.CreateTempSubdirectory().FullName;
        File.WriteAllText(Path.Combine(dir, "t.csv"), "ipa,kind,vcpu\n0x40001000,r,0\n0x40002000,w\n# comment\n0x40003000,q\n");
        string text = Minimal.Replace("- workload: { pattern: sequential, slot: 0 }", "- workload: { pattern: trace, file: t.csv }");
        var ex = Assert.Throws<ScenarioException>(() => ScenarioReader.Parse(text, Path.Combine(dir, "t.yaml"), dir));
        Assert.Contains(ex.Errors, e => e.Message.Contains("t.csv:5") && e.Message.Contains("'q'"));

        File.WriteAllText(Path.Combine(dir, "t.csv"), "0x40001000,r\n0x40002000,write,3\n");
        Scenario s = ScenarioReader.Parse(text, Path.Combine(dir, "t.yaml"), dir);
        var trace = ((WorkloadEvent)s.Timeline[0]).Trace!;
        Assert.Equal([(0x40001000UL, AccessKind.Read), (0x40002000UL, AccessKind.Write)], trace);
    }

    [Fact]
    public void A_pfnmap_mapping_takes_its_pgoff_from_the_device_region()
    {
        Scenario s = ScenarioReader.Load(Path.Combine(RepoPaths.Examples, "gpu-32g-bar-aligned.yaml"));
        HostAddressSpace host = HostBuilder.Build(s);
        Vma bar = host.FindVma(0x7f10_0000_0000)!;
        Assert.True(bar.IsPfnMap);
        Assert.Equal(0x80_0000_0000UL >> 12, bar.PgOff);
        Assert.True(host.TryTranslate(0x7f10_0000_1000, out HostMapping m));
        Assert.Equal(0x80_0000_1000UL, m.Pa);
    }
}
