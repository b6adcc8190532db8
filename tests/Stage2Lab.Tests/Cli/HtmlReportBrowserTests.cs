using System.Buffers.Binary;
using System.Diagnostics;
using System.Text.Json;
using static Stage2Lab.Tests.Robustness.CliProcess;

namespace Stage2Lab.Tests.Cli;

/// <summary>
/// Issue 11, item 12: the HTML report in a real browser (headless Chromium from Debian's packages; .ci/run
/// installs it) at 1400 and 800 pixels. Each width gets a screenshot (kept beside the report for a person to look
/// at; its size is checked) and a layout probe: a copy of the report with a script that measures what a reader
/// would see (no sideways scrolling, axis labels apart, violations listed, the IPA map's edges drawn) and
/// writes the numbers into the page, read back from Chromium's DOM dump.
/// </summary>
public class HtmlReportBrowserTests
{
    private const string Probe = """
<script>
(function () {
  const boxes = sel => [...document.querySelectorAll(sel)].map(e => e.getBoundingClientRect());
  const overlaps = rects => { let n = 0; for (let i = 0; i < rects.length; i++) for (let j = i + 1; j < rects.length; j++) {
    const a = rects[i], b = rects[j]; if (Math.abs(a.top - b.top) < 2 && a.left < b.right - 0.5 && b.left < a.right - 0.5) n++; } return n; };
  const maps = boxes('svg.ipa-map');
  const out = {
    viewport: window.innerWidth,
    pageWidth: document.documentElement.scrollWidth,
    title: document.querySelector('h1').textContent,
    subtitle: document.querySelector('.subtitle').textContent,
    sections: [...document.querySelectorAll('h2')].map(h => h.id),
    phaseRows: document.querySelectorAll('table.phases tbody tr').length,
    violations: document.querySelectorAll('ol.violations li').length,
    violationHeights: boxes('ol.violations li').map(r => r.height),
    violatingLeaves: document.querySelectorAll('rect.violation').length,
    vmaEdges: document.querySelectorAll('line.vma-edge').length,
    vmas: document.querySelectorAll('rect.vma').length,
    noVma: document.querySelectorAll('rect.no-vma').length,
    axisLabels: document.querySelectorAll('text.axis-label').length,
    axisOverlaps: overlaps(boxes('text.axis-label')),
    axisLabelMinHeight: Math.min(...boxes('text.axis-label').map(r => r.height)),
    mapRight: Math.max(...maps.map(r => r.right)),
    bodyRight: document.body.getBoundingClientRect().right,
    chartRows: document.querySelectorAll('svg.chart rect').length,
    zeroBars: [...document.querySelectorAll('svg.chart[data-chart=faults] rect')].filter(r => r.getAttribute('width') === '0').length,
    decisions: document.querySelectorAll('#decisions ~ div.decisions details').length,
    openDecisions: document.querySelectorAll('#decisions ~ div.decisions details[open]').length,
    tlbCharts: [...document.querySelectorAll('svg.chart')].map(c => c.dataset.chart).filter(c => c.startsWith('tlb')),
    tlbWalkBars: [...document.querySelectorAll('svg.chart[data-chart=tlb-walks] rect')].map(r => r.getBoundingClientRect().width),
    tlbNote: [...document.querySelectorAll('#guest-tlb ~ p.note')].map(p => p.textContent).join(' '),
  };
  const pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
})();
</script>
""";

    private static string Chromium()
    {
        foreach (string candidate in new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome" })
        {
            if (File.Exists(candidate))
                return candidate;
        }
        throw new InvalidOperationException("Chromium is needed for the HTML report tests and was not found: apt-get install -y chromium (.ci/run does it when it is missing).");
    }

    /// <summary>Runs headless Chromium on a file with one more argument (--screenshot=..., --dump-dom); its stdout.</summary>
    internal static string Browse(string html, int width, string what)
    {
        string profile = Directory.CreateTempSubdirectory("s2lab-chromium-").FullName;
        var info = new ProcessStartInfo(Chromium())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in new[]
        {
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--hide-scrollbars", $"--user-data-dir={profile}", $"--window-size={width},1600", what,
            new Uri(html).AbsoluteUri,
        })
        {
            info.ArgumentList.Add(a);
        }
        using var process = Process.Start(info)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(90)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("chromium ran for more than 90 s");
        }
        Assert.True(process.ExitCode == 0, $"chromium exited {process.ExitCode}: {error.Result}");
        try
        {
            Directory.Delete(profile, recursive: true);
        }
        catch (IOException)
        {
            // A profile file still held open: the temp folder is cleaned by the system.
        }
        return output.Result;
    }

    private static JsonElement Measure(string report, int width)
    {
        string probe = Path.Combine(Path.GetDirectoryName(report)!, $"probe-{width}.html");
        File.WriteAllText(probe, File.ReadAllText(report).Replace("</body>", Probe + "</body>", StringComparison.Ordinal));
        string dom = Browse(probe, width, "--dump-dom");
        int start = dom.IndexOf("<pre id=\"probe\">", StringComparison.Ordinal);
        Assert.True(start >= 0, "the probe did not run: " + dom[..Math.Min(dom.Length, 500)]);
        start += "<pre id=\"probe\">".Length;
        string json = System.Net.WebUtility.HtmlDecode(dom[start..dom.IndexOf("</pre>", start, StringComparison.Ordinal)]);
        return JsonDocument.Parse(json).RootElement.Clone();
    }

    private static void Screenshot(string report, int width)
    {
        string png = Path.Combine(Path.GetDirectoryName(report)!, $"{Path.GetFileNameWithoutExtension(report)}-{width}.png");
        Browse(report, width, $"--screenshot={png}");
        byte[] bytes = File.ReadAllBytes(png);
        Assert.True(bytes.Length > 10_000, $"{png}: {bytes.Length} bytes, a blank page?");
        Assert.Equal("\u0089PNG", System.Text.Encoding.Latin1.GetString(bytes, 0, 4));
        Assert.Equal(width, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16, 4))); // IHDR width
    }

    [Theory]
    [InlineData(1400)]
    [InlineData(800)]
    public void A_checked_single_run_shows_its_phases_its_violations_and_the_block_past_the_vma_end(int width)
    {
        string dir = TempDir();
        string report = Path.Combine(dir, "run.html");
        var r = InProcess("run", Path.Combine(RepoPaths.Examples, "bugs", "v6.18-block-past-vma-end.yaml"), "--check", "--report", report);
        Assert.Equal(1, r.Code);
        Screenshot(report, width);
        JsonElement m = Measure(report, width);

        Assert.True(m.GetProperty("pageWidth").GetDouble() <= m.GetProperty("viewport").GetDouble(), $"the page scrolls sideways at {width} px: {m}");
        Assert.True(m.GetProperty("mapRight").GetDouble() <= m.GetProperty("bodyRight").GetDouble() + 1, m.ToString());
        Assert.Contains("One policy: v6.18", m.GetProperty("subtitle").GetString());
        string[] sections = [.. m.GetProperty("sections").EnumerateArray().Select(s => s.GetString()!)];
        Assert.Equal(["phases", "violations", "ipa-map", "charts", "guest-tlb", "decisions"], sections);
        Assert.Equal(5, m.GetProperty("phaseRows").GetInt32()); // slot creation, two events, teardown, total
        Assert.Equal(2, m.GetProperty("violations").GetInt32());
        Assert.All(m.GetProperty("violationHeights").EnumerateArray(), h => Assert.True(h.GetDouble() > 10));
        // The 2M block that runs past the VMA's end: outlined, with the VMA's edges across it and the slot's
        // part without a VMA in red.
        Assert.True(m.GetProperty("violatingLeaves").GetInt32() >= 1, m.ToString());
        Assert.True(m.GetProperty("vmaEdges").GetInt32() >= 2, m.ToString());
        Assert.True(m.GetProperty("noVma").GetInt32() >= 1, m.ToString());
        Assert.Equal(15, m.GetProperty("axisLabels").GetInt32()); // five per memslot, three memslots
        Assert.Equal(0, m.GetProperty("axisOverlaps").GetInt32());
        Assert.True(m.GetProperty("axisLabelMinHeight").GetDouble() >= 8, m.ToString());
        Assert.Equal(0, m.GetProperty("zeroBars").GetInt32());
        Assert.Equal(1, m.GetProperty("openDecisions").GetInt32());
    }

    [Fact]
    public void Policy_colours_are_never_leaf_size_colours_and_red_marks_only_problems()
    {
        Assert.Empty(Stage2Lab.Reports.Html.PolicyColours.Intersect(Stage2Lab.Reports.Html.LevelColours, StringComparer.OrdinalIgnoreCase));
        Assert.DoesNotContain(Stage2Lab.Reports.Html.Problem, Stage2Lab.Reports.Html.PolicyColours.Concat(Stage2Lab.Reports.Html.LevelColours));
        Assert.Equal(Stage2Lab.Reports.Html.PolicyColours.Length, Stage2Lab.Reports.Html.PolicyColours.Distinct().Count());
    }

    [Fact]
    public void A_comparison_folds_its_decisions_and_fits_800_pixels()
    {
        string dir = TempDir();
        string report = Path.Combine(dir, "compare.html");
        var r = InProcess("compare", Path.Combine(RepoPaths.Examples, "device-reset-zap.yaml"), "--report", report);
        Assert.Equal(0, r.Code);
        Screenshot(report, 800);
        JsonElement m = Measure(report, 800);
        Assert.True(m.GetProperty("pageWidth").GetDouble() <= 800, m.ToString());
        Assert.Contains("policies compared", m.GetProperty("subtitle").GetString());
        Assert.Equal("compare", m.GetProperty("sections")[0].GetString());
        Assert.True(m.GetProperty("decisions").GetInt32() > 0, m.ToString());
        Assert.Equal(0, m.GetProperty("openDecisions").GetInt32());
        Assert.Equal(0, m.GetProperty("axisOverlaps").GetInt32());
    }

    [Fact]
    public void The_guest_tlb_section_charts_what_v5_14_blocks_save_the_guest()
    {
        string dir = TempDir();
        string report = Path.Combine(dir, "tlb.html");
        var r = InProcess("compare", Path.Combine(RepoPaths.Examples, "gpu-32g-bar-aligned.yaml"), "--policies", "v5.13", "v5.14", "--report", report);
        Assert.Equal(0, r.Code);
        Screenshot(report, 800);
        JsonElement m = Measure(report, 800);
        Assert.True(m.GetProperty("pageWidth").GetDouble() <= 800, m.ToString());
        string[] sections = [.. m.GetProperty("sections").EnumerateArray().Select(s => s.GetString()!)];
        Assert.Equal(["compare", "ipa-map", "charts", "guest-tlb", "decisions"], sections);
        Assert.Equal(["tlb-walks", "tlb-refs", "tlb-time", "tlb-phase-time"], m.GetProperty("tlbCharts").EnumerateArray().Select(c => c.GetString()!));
        double[] walks = [.. m.GetProperty("tlbWalkBars").EnumerateArray().Select(w => w.GetDouble())];
        Assert.Equal(2, walks.Length);
        Assert.True(walks[1] < walks[0] && walks[1] > 0, $"v5.14's bar {walks[1]} px, v5.13's {walks[0]} px");
        Assert.Contains("walker.memRefs × 30 cycles", m.GetProperty("tlbNote").GetString());

        // With the model off the section is not there.
        string off = Path.Combine(dir, "off.html");
        Assert.Equal(0, InProcess("compare", Path.Combine(RepoPaths.Examples, "device-reset-zap.yaml"), "--tlb", "off", "--report", off).Code);
        Assert.DoesNotContain("id=\"guest-tlb\"", File.ReadAllText(off));
    }
}
