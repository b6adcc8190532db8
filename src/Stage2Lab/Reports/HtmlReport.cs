using System.Globalization;
using System.Net;
using System.Text;
using Stage2Lab.Arch;
using Stage2Lab.Simulation.Runs;

namespace Stage2Lab.Reports;

/// <summary>
/// One self-contained HTML page (no scripts, no network): the comparison table, an IPA map per policy with
/// every stage-2 leaf drawn to scale and coloured by size, charts of faults, page-table memory and estimated
/// time per policy and phase, and the explanation of the costliest decisions.
/// </summary>
public static class HtmlReport
{
    private const int MapWidth = 960;
    private static readonly string[] LevelColours = ["#7b3294", "#1a9641", "#2c7bb6", "#d7191c"];

    public static string Render(ScenarioResult result)
    {
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
        html.Append("<title>").Append(E(result.Scenario)).Append(" — Stage2Lab</title>\n");
        html.Append("""
<style>
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1100px;color:#222;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em} h2{margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;font-size:.9em} td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}
td:first-child,th:first-child{text-align:left} tr.section td{border-top:2px solid #ccc}
.note{color:#555;font-size:.85em} pre{background:#f6f8fa;padding:.8em;white-space:pre-wrap;font-size:.82em}
.legend span{display:inline-block;margin-right:1.2em} .sw{display:inline-block;width:12px;height:12px;vertical-align:middle;margin-right:4px}
svg text{font-family:system-ui,sans-serif}
</style></head><body>

""");
        html.Append("<h1>").Append(E(result.Scenario)).Append("</h1>\n");
        if (result.Description is not null)
            html.Append("<p>").Append(E(result.Description)).Append("</p>\n");
        html.Append("<p class=\"note\">Scenario file ").Append(E(Path.GetFileName(result.File))).Append(". Produced by Stage2Lab; every number comes from the model of the kernel's own page-table and fault-path code.</p>\n");

        html.Append("<h2>Policies compared</h2>\n");
        AppendTable(html, RunTables.Compare(result));

        html.Append("<h2>IPA map</h2>\n<p class=\"note\">Each memslot is drawn to scale on its own line; every stage-2 leaf at the end of the timeline is coloured by its size, paler where only part of a pixel's range is mapped. Leaves outside every memslot are drawn on a line of their own.</p>\n");
        html.Append("<p class=\"legend\">");
        Granule g = result.Runs[0].Granule;
        for (int level = g.MinBlockLevel; level <= Granule.LastLevel; level++)
            html.Append($"<span><i class=\"sw\" style=\"background:{LevelColours[level]}\"></i>{SizeText.Format(g.LevelSize(level))} {(level == 3 ? "pages" : "blocks")}</span>");
        html.Append("<span><i class=\"sw\" style=\"background:#eee;border:1px solid #bbb\"></i>not mapped</span></p>\n");
        foreach (PolicyRun run in result.Runs)
        {
            html.Append("<h3>").Append(E(run.Policy)).Append("</h3>\n<p class=\"note\">").Append(E(run.Description)).Append(". At the end: ").Append(E(RunTables.FinalLeaves(run))).Append(".</p>\n");
            AppendIpaMap(html, run);
        }

        html.Append("<h2>Charts</h2>\n");
        AppendBarChart(html, "Stage-2 faults per phase", result, (run, p) => run.Phases[p].Faults.Faults, v => Format.Count((long)v));
        AppendBarChart(html, "Estimated host time per phase (" + result.Runs[0].Profile.Name + ")", result, (run, p) => run.Phases[p].EstimatedNs, Format.Duration);
        AppendPolicyBars(html, "Page-table memory at the end", result, run => run.Final.TableBytes, v => Format.Bytes(v));

        html.Append("<h2>Decisions</h2>\n<p class=\"note\">One representative per distinct kind of decision (memslot, outcome, size and binding constraint), the costliest in total first, explained step by step.</p>\n");
        foreach (PolicyRun run in result.Runs)
        {
            if (run.Decisions.Count == 0)
                continue;
            html.Append("<h3>").Append(E(run.Policy)).Append("</h3>\n");
            foreach (DecisionGroup d in run.Decisions.Take(DecisionTables.Shown))
            {
                html.Append("<p class=\"note\">").Append(E(DecisionTables.Heading(d))).Append("</p>\n<pre>");
                html.Append(E(DecisionText.Render(d.Representative))).Append("</pre>\n");
            }
        }
        if (result.Runs.Any(r => r.Explained is not null))
        {
            html.Append("<h2>Explained fault</h2>\n");
            foreach (PolicyRun run in result.Runs)
            {
                if (run.Explained is not { } explained)
                    continue;
                html.Append("<p class=\"note\">").Append(E(DecisionTables.PickNote(explained))).Append("</p>\n");
                html.Append("<pre>").Append(E(DecisionText.Render(explained.Record))).Append("</pre>\n");
            }
        }
        html.Append("</body></html>\n");
        return html.ToString();
    }

    private static void AppendTable(StringBuilder html, ReportTable table)
    {
        html.Append("<table><thead><tr>");
        foreach (string c in table.Columns)
            html.Append("<th>").Append(E(c)).Append("</th>");
        html.Append("</tr></thead><tbody>\n");
        for (int i = 0; i < table.Rows.Count; i++)
        {
            html.Append(table.SectionStarts.Contains(i) && i > 0 ? "<tr class=\"section\">" : "<tr>");
            foreach (string cell in table.Rows[i])
                html.Append("<td>").Append(E(cell)).Append("</td>");
            html.Append("</tr>\n");
        }
        html.Append("</tbody></table>\n");
        foreach (string note in table.Notes)
            html.Append("<p class=\"note\">").Append(E(note)).Append("</p>\n");
    }

    /// <summary>One band per memslot, leaves drawn to scale, downsampled to one colour per pixel column
    /// (the size covering most bytes there), so a million 4K leaves cost as much as a handful.</summary>
    private static void AppendIpaMap(StringBuilder html, PolicyRun run)
    {
        var bands = run.Final.Memslots.Select(m => (Label: $"slot {m.Id}: IPA {Format.Hex(m.Ipa)} +{SizeText.Format(m.SizeBytes)} ({m.Backing})", Start: m.Ipa, End: m.Ipa + m.SizeBytes)).ToList();
        var outside = run.Final.Runs.Where(r => !bands.Any(b => r.Ipa < b.End && b.Start < r.EndIpa)).ToList();
        if (outside.Count > 0)
            bands.Add(("outside every memslot", outside.Min(r => r.Ipa), outside.Max(r => r.EndIpa)));
        const int bandHeight = 18, labelHeight = 16, gap = 10;
        int height = bands.Count * (bandHeight + labelHeight + gap) + 4;
        html.Append($"<svg width=\"{MapWidth}\" height=\"{height}\" viewBox=\"0 0 {MapWidth} {height}\" xmlns=\"http://www.w3.org/2000/svg\">\n");
        int y = 2;
        foreach (var band in bands)
        {
            html.Append($"<text x=\"0\" y=\"{y + 12}\" font-size=\"12\">{E(band.Label)}</text>\n");
            y += labelHeight;
            html.Append($"<rect x=\"0\" y=\"{y}\" width=\"{MapWidth}\" height=\"{bandHeight}\" fill=\"#eee\" stroke=\"#bbb\"/>\n");
            double span = band.End - band.Start;
            var pixels = new double[MapWidth, 4];
            foreach (LeafRun leafRun in run.Final.Runs)
            {
                ulong s = Math.Max(leafRun.Ipa, band.Start), e = Math.Min(leafRun.EndIpa, band.End);
                if (s >= e)
                    continue;
                double x0 = (s - band.Start) / span * MapWidth, x1 = (e - band.Start) / span * MapWidth;
                for (int px = (int)x0; px < Math.Min(MapWidth, (int)Math.Ceiling(x1)); px++)
                {
                    double cover = Math.Min(x1, px + 1) - Math.Max(x0, px);
                    pixels[px, leafRun.Level] += Math.Max(cover, 0);
                }
            }
            // Each pixel column takes the colour of the size covering most of it, and an opacity saying how
            // much of it is mapped at all (sparse faults over a large BAR show as a pale band).
            int start = -1, level = -1, shade = -1;
            for (int px = 0; px <= MapWidth; px++)
            {
                int best = -1, bestShade = -1;
                if (px < MapWidth)
                {
                    double bestCover = 0.0, total = 0.0;
                    for (int l = 0; l < 4; l++)
                    {
                        total += pixels[px, l];
                        if (pixels[px, l] > bestCover)
                        {
                            bestCover = pixels[px, l];
                            best = l;
                        }
                    }
                    bestShade = total >= 0.99 ? 3 : total >= 0.5 ? 2 : total >= 0.1 ? 1 : 0;
                }
                if (best != level || bestShade != shade)
                {
                    if (level >= 0)
                    {
                        string opacity = shade switch { 3 => "1", 2 => "0.7", 1 => "0.45", _ => "0.25" };
                        html.Append($"<rect x=\"{start}\" y=\"{y}\" width=\"{px - start}\" height=\"{bandHeight}\" fill=\"{LevelColours[level]}\" fill-opacity=\"{opacity}\"><title>{SizeText.Format(run.Granule.LevelSize(level))} leaves</title></rect>\n");
                    }
                    start = px;
                    level = best;
                    shade = bestShade;
                }
            }
            y += bandHeight + gap;
        }
        html.Append("</svg>\n");
    }

    private static readonly string[] PolicyColours = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1"];

    private static void AppendBarChart(StringBuilder html, string title, ScenarioResult result, Func<PolicyRun, int, double> value, Func<double, string> label)
    {
        PolicyRun first = result.Runs[0];
        int phases = first.Phases.Count;
        double max = 0;
        foreach (PolicyRun run in result.Runs)
        {
            for (int p = 0; p < Math.Min(phases, run.Phases.Count); p++)
                max = Math.Max(max, value(run, p));
        }
        const int rowHeight = 14, left = 170, chartWidth = 620;
        int height = phases * (result.Runs.Count * rowHeight + 12) + 30;
        html.Append("<h3>").Append(E(title)).Append("</h3>\n");
        html.Append($"<svg width=\"{left + chartWidth + 150}\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\">\n");
        int y = 4;
        for (int p = 0; p < phases; p++)
        {
            html.Append($"<text x=\"0\" y=\"{y + 11}\" font-size=\"12\">{E(first.Phases[p].Name)}</text>\n");
            for (int r = 0; r < result.Runs.Count; r++)
            {
                PolicyRun run = result.Runs[r];
                double v = p < run.Phases.Count ? value(run, p) : 0;
                double w = max > 0 ? Math.Max(v > 0 ? 1 : 0, v / max * chartWidth) : 0;
                string colour = PolicyColours[r % PolicyColours.Length];
                html.Append($"<rect x=\"{left}\" y=\"{y}\" width=\"{w.ToString("0.#", CultureInfo.InvariantCulture)}\" height=\"{rowHeight - 3}\" fill=\"{colour}\"><title>{E(run.Policy)}: {E(label(v))}</title></rect>");
                html.Append($"<text x=\"{(left + w + 4).ToString("0.#", CultureInfo.InvariantCulture)}\" y=\"{y + 10}\" font-size=\"10\">{E(run.Policy)} {E(label(v))}</text>\n");
                y += rowHeight;
            }
            y += 12;
        }
        html.Append("</svg>\n");
    }

    private static void AppendPolicyBars(StringBuilder html, string title, ScenarioResult result, Func<PolicyRun, double> value, Func<double, string> label)
    {
        double max = result.Runs.Max(value);
        const int rowHeight = 18, left = 100, chartWidth = 620;
        html.Append("<h3>").Append(E(title)).Append("</h3>\n");
        html.Append($"<svg width=\"{left + chartWidth + 150}\" height=\"{result.Runs.Count * rowHeight + 8}\" xmlns=\"http://www.w3.org/2000/svg\">\n");
        int y = 4;
        for (int r = 0; r < result.Runs.Count; r++)
        {
            double v = value(result.Runs[r]);
            double w = max > 0 ? Math.Max(v > 0 ? 1 : 0, v / max * chartWidth) : 0;
            html.Append($"<text x=\"0\" y=\"{y + 12}\" font-size=\"12\">{E(result.Runs[r].Policy)}</text>");
            html.Append($"<rect x=\"{left}\" y=\"{y}\" width=\"{w.ToString("0.#", CultureInfo.InvariantCulture)}\" height=\"{rowHeight - 4}\" fill=\"{PolicyColours[r % PolicyColours.Length]}\"/>");
            html.Append($"<text x=\"{(left + w + 4).ToString("0.#", CultureInfo.InvariantCulture)}\" y=\"{y + 12}\" font-size=\"11\">{E(label(v))}</text>\n");
            y += rowHeight;
        }
        html.Append("</svg>\n");
    }

    private static string E(string text) => WebUtility.HtmlEncode(text);
}
