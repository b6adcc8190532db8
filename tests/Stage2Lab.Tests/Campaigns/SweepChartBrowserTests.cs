using System.Text.Json;
using Stage2Lab.Tests.Cli;
using static Stage2Lab.Tests.Robustness.CliProcess;

namespace Stage2Lab.Tests.Campaigns;

/// <summary>
/// Issue 13: the sweep chart (--plot) in headless Chromium: the SVG renders on its own, and the HTML page shows a
/// line per policy and size, a legend naming each, and axis labels apart from one another.
/// </summary>
public class SweepChartBrowserTests
{
    private const string Probe = """
<script>
(function () {
  const boxes = sel => [...document.querySelectorAll(sel)].map(e => e.getBoundingClientRect());
  const overlaps = rects => { let n = 0; for (let i = 0; i < rects.length; i++) for (let j = i + 1; j < rects.length; j++) {
    const a = rects[i], b = rects[j]; if (a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5 && a.left < b.right - 0.5 && b.left < a.right - 0.5) n++; } return n; };
  const svg = document.querySelector('svg.sweep-chart').getBoundingClientRect();
  const out = {
    viewport: window.innerWidth,
    pageWidth: document.documentElement.scrollWidth,
    lines: document.querySelectorAll('polyline.series').length,
    legend: [...document.querySelectorAll('text.legend-label')].map(t => t.textContent),
    ticks: [...document.querySelectorAll('text.tick-label')].map(t => t.textContent),
    tickOverlaps: overlaps(boxes('text.tick-label')),
    legendOverlaps: overlaps(boxes('text.legend-label')),
    svgWidth: svg.width,
    svgHeight: svg.height,
  };
  const pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
})();
</script>
""";

    [Fact]
    public void The_chart_renders_as_svg_and_as_a_page_with_a_line_and_a_legend_entry_per_series()
    {
        string dir = TempDir();
        string scenario = SweepCliTests.WriteScenario(dir);
        string svg = Path.Combine(dir, "chart.svg"), html = Path.Combine(dir, "chart.html");
        foreach (string plot in new[] { svg, html })
        {
            var r = InProcess(["sweep", scenario, .. SweepCliTests.Vary, "--plot", plot, "--metric", "mapped-bytes-l1"]);
            Assert.True(r.Code == 0, r.Err);
        }
        Assert.DoesNotContain("http", File.ReadAllText(html).Replace("http://www.w3.org/2000/svg", "", StringComparison.Ordinal), StringComparison.Ordinal);

        string png = Path.Combine(dir, "chart.png");
        HtmlReportBrowserTests.Browse(svg, 1000, $"--screenshot={png}");
        Assert.True(new FileInfo(png).Length > 10_000, "a blank chart?");

        string probe = Path.Combine(dir, "probe.html");
        File.WriteAllText(probe, File.ReadAllText(html).Replace("</body>", Probe + "</body>", StringComparison.Ordinal));
        string dom = HtmlReportBrowserTests.Browse(probe, 1000, "--dump-dom");
        int start = dom.IndexOf("<pre id=\"probe\">", StringComparison.Ordinal);
        Assert.True(start >= 0, "the probe did not run");
        start += "<pre id=\"probe\">".Length;
        JsonElement m = JsonDocument.Parse(System.Net.WebUtility.HtmlDecode(dom[start..dom.IndexOf("</pre>", start, StringComparison.Ordinal)])).RootElement;

        Assert.Equal(6, m.GetProperty("lines").GetInt32()); // 3 policies × 2 sizes
        string[] legend = [.. m.GetProperty("legend").EnumerateArray().Select(e => e.GetString()!)];
        Assert.Contains("v6.18, mappings[1].size=1G", legend);
        Assert.Contains("v5.13, mappings[1].size=256M", legend);
        string[] ticks = [.. m.GetProperty("ticks").EnumerateArray().Select(e => e.GetString()!)];
        Assert.Contains("0x7f10_0000_0000", ticks); // addresses in hex, as the scenario writes them
        Assert.Contains("1.00 GiB", ticks); // bytes in binary units
        Assert.Equal(0, m.GetProperty("tickOverlaps").GetInt32());
        Assert.Equal(0, m.GetProperty("legendOverlaps").GetInt32());
        Assert.True(m.GetProperty("pageWidth").GetDouble() <= m.GetProperty("viewport").GetDouble(), m.ToString());
        Assert.True(m.GetProperty("svgHeight").GetDouble() > 300, m.ToString());
    }
}
