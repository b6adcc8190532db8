using System.Text;
using System.Text.RegularExpressions;
using static Stage2Lab.Tests.Robustness.CliProcess;

namespace Stage2Lab.Tests.Robustness;

/// <summary>
/// Issue 12, kept fixed: a seeded generator of malformed, hostile and extreme inputs (mutations of a small
/// scenario and of fault and op scripts), each fed to the command line. Whatever the input, s2lab ends with 0,
/// 1 or 2, never a stack trace or an internal error; an input error names the file and line (and column).
/// </summary>
public partial class MalformedInputGeneratorTests
{
    private const int Seed = 20261204;

    /// <summary>A small scenario that touches every reader: ranges, every mapping kind, pieces, slots, events.</summary>
    private const string Scenario = """
        name: seed
        host:
          page-size: 4K
          va-bits: 48
          thp: always
          ram: [ { name: dram, base: 0x8000_0000, size: 8G } ]
          devices: [ { name: bar, base: 0x100_0000_0000, size: 1G } ]
        mappings:
          - { name: ram, kind: anon, start: 0x7f00_0000_0000, size: 1G, thp: true }
          - { name: huge, kind: hugetlb, huge-page-size: 2M, start: 0x7f40_0000_0000, size: 64M }
          - name: bar
            kind: pfnmap
            start: 0x7000_0000_0000
            size: 64M
            device: bar
            device-offset: 0
            host-pmd: true
            pieces:
              - { offset: 0, size: 2M, pa: 0x100_2000_0000 }
        vm: { ipa-bits: 40, eager-split-chunk: 2M, policies: [v6.18] }
        memslots:
          - { id: 0, ipa: 0x4000_0000, mapping: ram }
          - { id: 1, ipa: 0x80_0000_0000, mapping: bar }
          - { id: 2, ipa: 0x1_0000_0000, mapping: huge, offset: 0, size: 32M }
        timeline:
          - workload: { name: boot, pattern: sequential, slot: 2, stride: 2M }
          - workload: { pattern: random, slot: 0, count: 500, seed: 3, mix: { read: 60, write: 40, exec: 0 } }
          - workload: { pattern: zipf, ipa: 0x80_0000_0000, size: 64M, count: 300, skew: 1.2, buckets: 64 }
          - workload: { pattern: trace, file: t.csv }
          - access: { ipa: 0x4000_1000, kind: write }
          - dirty-log: { slot: 0, enable: true }
          - get-dirty-log: { slot: 0 }
          - clear-dirty-log: { slot: 0, first-page: 0, pages: 64 }
          - slot-move: { slot: 2, ipa: 0x2_0000_0000 }
          - munmap: { mapping: bar, offset: 2M, size: 2M }
          - zap: { hva: 0x7000_0000_0000, size: 2M }
          - age: { mapping: ram }
          - slot-create: { id: 3, ipa: 0x3_0000_0000, hva: 0x7f00_0000_0000, size: 2M }
          - slot-delete: { slot: 3 }
          - teardown: {}

        """;

    /// <summary>A small op script: a block, pages (an unaligned PA), an unmap, attributes, a dump.</summary>
    private const string OpsScript = """
        granule 4K
        ipa-bits 40
        fwb off
        map 0x8000000000 2M 0x2000000000 rwd
        map 0x8000200000 2M 0x2000201000 rw
        unmap 0x8000200000 8K
        mkyoung 0x8000000000
        dump

        """;

    private const string Trace = "ipa,kind,vcpu\n0x40001000,r,0\n0x40002000,w,1\n# a comment\n0x80000000,x\n";

    private static readonly string[] Extremes =
    [
        "0", "1", "-1", "0x", "4Q", "''", "NaN", ".inf", "1e309", "0xffff_ffff_ffff_ffff", "18446744073709551616",
        "0x1_0000_0000_1000", "0x10_0000_0000_1000", "0x7fff_ffff", "99999999999", "16T", "4096T",
    ];

    private static readonly string[] Junk = ["\0", "\u00ff\u00fe", "\u0001\u0002", "{", "}", "[", "]", ":", ",", "- ", "&a ", "*a", "!!binary ", "\t", "\"", "'", "#", "? ", "%YAML 1.1\n"];

    [GeneratedRegex(@"0x[0-9a-fA-F_]+|\b[0-9]+[KMGT]?\b")]
    private static partial Regex NumberToken();

    [GeneratedRegex(@"[A-Za-z-]+(?=:)")]
    private static partial Regex KeyToken();

    private static string MutateScenario(Random random, string text)
    {
        int mutations = random.Next(4) == 0 ? 2 : 1;
        for (int m = 0; m < mutations; m++)
        {
            switch (random.Next(9))
            {
                case 0 or 1:
                    {
                        MatchCollection numbers = NumberToken().Matches(text);
                        Match n = numbers[random.Next(numbers.Count)];
                        text = text[..n.Index] + Extremes[random.Next(Extremes.Length)] + text[(n.Index + n.Length)..];
                        break;
                    }
                case 2:
                    {
                        int at = random.Next(text.Length);
                        text = text[..at] + Junk[random.Next(Junk.Length)] + text[at..];
                        break;
                    }
                case 3:
                    {
                        string[] structural = ["{", "}", "[", "]", ":", ","];
                        string c = structural[random.Next(structural.Length)];
                        int at = text.IndexOf(c, random.Next(text.Length), StringComparison.Ordinal);
                        if (at >= 0)
                            text = text.Remove(at, 1);
                        break;
                    }
                case 4:
                    text = text[..random.Next(text.Length)];
                    break;
                case 5:
                    {
                        string[] lines = text.Split('\n');
                        int i = random.Next(lines.Length);
                        text = string.Join('\n', lines.Take(i + 1).Append(lines[i]).Concat(lines.Skip(i + 1)));
                        break;
                    }
                case 6:
                    {
                        MatchCollection numbers = NumberToken().Matches(text);
                        Match n = numbers[random.Next(numbers.Count)];
                        int depth = random.Next(2) == 0 ? 70 : 20_000;
                        text = text[..n.Index] + new string('[', depth) + n.Value + new string(']', depth) + text[(n.Index + n.Length)..];
                        break;
                    }
                case 7:
                    {
                        MatchCollection keys = KeyToken().Matches(text);
                        Match k = keys[random.Next(keys.Count)];
                        text = text[..k.Index] + k.Value[..^1] + text[(k.Index + k.Length)..];
                        break;
                    }
                default:
                    {
                        // Binary junk: a run of random bytes as Latin-1 characters.
                        int at = random.Next(text.Length);
                        var junk = new StringBuilder();
                        for (int i = 0, n = 1 + random.Next(64); i < n; i++)
                            junk.Append((char)random.Next(256));
                        text = text[..at] + junk + text[at..];
                        break;
                    }
            }
        }
        return text;
    }

    private static string MutateScript(Random random, string text)
    {
        string[] lines = text.Split('\n');
        int i = random.Next(lines.Length);
        string[] words = lines[i].Split(' ');
        int w = random.Next(words.Length);
        words[w] = random.Next(6) switch
        {
            0 => Extremes[random.Next(Extremes.Length)],
            1 => new string('r', 1 + random.Next(5000)),
            2 => "",
            3 => "\0\u00ff",
            4 => words[w] + " " + words[w],
            _ => new string('x', random.Next(3)),
        };
        lines[i] = string.Join(' ', words);
        return string.Join('\n', lines);
    }

    private static void AssertEndsProperly((int Code, string Out, string Err) r, string file, string input, bool script)
    {
        string context = $"input:\n{(input.Length > 2000 ? input[..2000] + "..." : input)}\nstderr:\n{r.Err}";
        Assert.True(r.Code is 0 or 1 or 2, $"exit {r.Code}; {context}");
        Assert.DoesNotContain("   at ", r.Err);
        Assert.DoesNotContain("internal error", r.Err);
        Assert.DoesNotContain("Unhandled", r.Err);
        if (r.Code == 2)
        {
            string pattern = script ? $@"^{Regex.Escape(file)}:\d+: " : $@"^{Regex.Escape(file)}:\d+:\d+: ";
            Assert.True(Regex.IsMatch(r.Err, pattern), $"no {(script ? "file:line" : "file:line:col")}; {context}");
        }
    }

    [Fact]
    public void Mutated_scenarios_end_in_0_1_or_2_with_file_line_and_column()
    {
        var random = new Random(Seed);
        string dir = TempDir();
        File.WriteAllText(Path.Combine(dir, "t.csv"), Trace);
        string file = Path.Combine(dir, "m.yaml");
        File.WriteAllText(file, Scenario);
        Assert.Equal(0, InProcess("check", file, "--policies", "v6.18").Code);
        var outcomes = new int[3];
        for (int n = 0; n < 250; n++)
        {
            string text = MutateScenario(random, Scenario);
            File.WriteAllText(file, text, Encoding.Latin1);
            string command = n % 5 == 0 ? "run" : "check";
            var r = InProcess(command, file, command == "run" ? "--policy" : "--policies", "v6.18", "--max-memory", "256M");
            AssertEndsProperly(r, file, text, script: false);
            outcomes[r.Code]++;
        }
        // The generator reaches both sides: some mutants stay valid, most are refused.
        Assert.True(outcomes[0] > 5, $"valid: {outcomes[0]}");
        Assert.True(outcomes[2] > 100, $"refused: {outcomes[2]}");
    }

    [Fact]
    public void Mutated_fault_and_op_scripts_end_in_0_or_2_with_file_and_line()
    {
        var random = new Random(Seed + 1);
        string[] seeds =
        [
            File.ReadAllText(Path.Combine(RepoPaths.FaultGolden, "named-bar-2m-only.s2faults")),
            OpsScript,
        ];
        string dir = TempDir();
        var outcomes = new int[3];
        for (int n = 0; n < 150; n++)
        {
            int which = n % seeds.Length;
            string file = Path.Combine(dir, which == 0 ? "m.s2faults" : "m.s2ops");
            string text = MutateScript(random, seeds[which]);
            File.WriteAllText(file, text, Encoding.Latin1);
            var r = InProcess("replay", file);
            AssertEndsProperly(r, file, text, script: true);
            Assert.NotEqual(1, r.Code);
            outcomes[r.Code]++;
        }
        Assert.True(outcomes[2] > 30, $"refused: {outcomes[2]}");
    }
}
