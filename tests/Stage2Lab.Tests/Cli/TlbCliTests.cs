using System.Globalization;
using System.Text.Json;
using Stage2Lab.Cli;

namespace Stage2Lab.Tests.Cli;

/// <summary>
/// Issue 10, the acceptance: `compare examples/gpu-32g-bar-aligned.yaml` shows, in the driver phase (the guest driver
/// streaming through its 1 GiB-block ioremap of the BAR), what v5.14's stage-2 blocks buy the guest over v5.13's
/// pages: the combined TLB entry grows from 4 KiB to 1 GiB, so walks, walk memory references and guest time collapse.
/// Read from the CLI's own output, text and JSON; and --tlb's parsing.
/// </summary>
public class TlbCliTests
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
    public void Compare_text_shows_the_driver_phase_paying_far_less_under_v5_14_blocks()
    {
        var (code, output, err) = Run("compare", Example("gpu-32g-bar-aligned.yaml"));
        Assert.True(code == 0, err);
        string[] lines = output.Split('\n');
        string[] header = Cells(lines.First(l => l.Contains("v5.13") && l.Contains("v5.14")));
        int v513 = Array.IndexOf(header, "v5.13"), v514 = Array.IndexOf(header, "v5.14");

        double walks513 = Number(DriverRow(lines, "walker.walks")[v513]), walks514 = Number(DriverRow(lines, "walker.walks")[v514]);
        double refs513 = Number(DriverRow(lines, "walker.memRefs")[v513]), refs514 = Number(DriverRow(lines, "walker.memRefs")[v514]);
        double ns513 = Nanoseconds(DriverRow(lines, "estimated guest time (neoverse-n1)")[v513]);
        double ns514 = Nanoseconds(DriverRow(lines, "estimated guest time (neoverse-n1)")[v514]);

        // 200,000 random accesses over 32 GiB: v5.13's 4 KiB entries miss nearly every time; v5.14's 32 1 GiB
        // entries are walked once each.
        Assert.True(walks513 > 100_000, $"v5.13 driver walks {walks513}");
        Assert.True(walks514 * 100 < walks513, $"walks {walks514} vs {walks513}");
        Assert.True(refs514 * 100 < refs513, $"memRefs {refs514} vs {refs513}");
        Assert.True(ns514 * 10 < ns513, $"guest ns {ns514} vs {ns513}");

        // The rows carry gem5's names, and the assumptions are stated.
        foreach (string name in new[] { "dtb.hits", "dtb.misses", "l2_shared.hits", "l2_shared.misses", "walker.walksLongTerminatedAtLevel::Level1", "walker.pageSizes::1GiB", "memRefs per walk" })
            Assert.Contains(name, output);
        Assert.Contains("walker.memRefs × 30 cycles) / 2.5 GHz", output);
    }

    [Fact]
    public void Compare_json_shows_the_same_difference_in_the_driver_phase()
    {
        var (code, output, err) = Run("compare", Example("gpu-32g-bar-aligned.yaml"), "--format", "json");
        Assert.True(code == 0, err);
        using JsonDocument doc = JsonDocument.Parse(output);
        JsonElement Driver(string policy) => doc.RootElement.GetProperty("policies").EnumerateArray()
            .Single(p => p.GetProperty("policy").GetString() == policy)
            .GetProperty("phases").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "driver").GetProperty("tlb");

        JsonElement before = Driver("v5.13"), after = Driver("v5.14");
        long Walks(JsonElement t) => t.GetProperty("walker").GetProperty("walks").GetInt64();
        long Refs(JsonElement t) => t.GetProperty("walker").GetProperty("memRefs").GetInt64();
        long Ns(JsonElement t) => t.GetProperty("estimatedGuestNs").GetInt64();
        Assert.True(Walks(before) > 100_000);
        Assert.True(Walks(after) * 100 < Walks(before), $"{Walks(after)} vs {Walks(before)}");
        Assert.True(Refs(after) * 100 < Refs(before), $"{Refs(after)} vs {Refs(before)}");
        Assert.True(Ns(after) * 10 < Ns(before), $"{Ns(after)} vs {Ns(before)}");
        // v5.14's walks made 1 GiB entries, v5.13's 4 KiB ones.
        long Size(JsonElement t, long bytes) => t.GetProperty("walker").GetProperty("pageSizes").EnumerateArray()
            .Single(s => s.GetProperty("sizeBytes").GetInt64() == bytes).GetProperty("walks").GetInt64();
        Assert.Equal(Walks(after), Size(after, 1L << 30));
        Assert.Equal(Walks(before), Size(before, 4096));

        JsonElement run = doc.RootElement.GetProperty("policies")[0].GetProperty("tlb");
        Assert.Equal("neoverse-n1", run.GetProperty("profile").GetString());
        Assert.Equal(30, run.GetProperty("walkReferenceCycles").GetDouble());
    }

    [Fact]
    public void Tlb_off_leaves_the_rows_and_the_json_section_out()
    {
        var (code, text, _) = Run("run", Example("nic-small-bars-mmio.yaml"), "--tlb", "off");
        Assert.Equal(0, code);
        Assert.DoesNotContain("walker.walks", text);
        var (code2, json, _) = Run("compare", Example("nic-small-bars-mmio.yaml"), "--tlb", "off", "--format", "json");
        Assert.Equal(0, code2);
        Assert.DoesNotContain("\"tlb\"", json);
        var (code3, withTlb, _) = Run("run", Example("nic-small-bars-mmio.yaml"), "--tlb", "simple");
        Assert.Equal(0, code3);
        Assert.Contains("guest TLB (simple) phase by phase", withTlb);
    }

    [Fact]
    public void An_unknown_profile_is_a_parse_error_listing_the_profiles()
    {
        var (code, _, err) = Run("compare", Example("nic-small-bars-mmio.yaml"), "--tlb", "cortex-x9");
        Assert.Equal(2, code);
        Assert.Contains("'cortex-x9' not recognized", err);
        Assert.Contains("'neoverse-n1'", err);
        Assert.Contains("'simple'", err);
        Assert.Contains("'off'", err);
        Assert.DoesNotContain("   at ", err);
    }

    private static string[] Cells(string line) => [.. line.Split('│').Select(c => c.Trim())];

    /// <summary>The "  driver" row under the row named <paramref name="label"/>.</summary>
    private static string[] DriverRow(string[] lines, string label)
    {
        int at = Array.FindIndex(lines, l => Cells(l) is { Length: > 1 } c && c[1] == label);
        Assert.True(at >= 0, $"no row '{label}'");
        for (int i = at + 1; i < lines.Length; i++)
        {
            string[] cells = Cells(lines[i]);
            if (cells.Length > 1 && cells[1] == "driver")
                return cells;
        }
        throw new Xunit.Sdk.XunitException($"no driver row under '{label}'");
    }

    /// <summary>"592,506 ×0.0001" → 592506.</summary>
    private static double Number(string cell) => double.Parse(cell.Split(' ')[0].Replace(",", ""), CultureInfo.InvariantCulture);

    /// <summary>"7.4 ms ×0.0082" → 7.4e6.</summary>
    private static double Nanoseconds(string cell)
    {
        string[] parts = cell.Split(' ');
        double value = double.Parse(parts[0], CultureInfo.InvariantCulture);
        return value * parts[1] switch { "s" => 1e9, "ms" => 1e6, "µs" => 1e3, _ => 1 };
    }
}
