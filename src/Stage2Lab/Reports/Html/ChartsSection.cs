using System.Text;
using Stage2Lab.Simulation.Runs;

namespace Stage2Lab.Reports;

/// <summary>
/// Bar charts: faults and estimated time per phase (phases where every policy has zero are left out, and a chart
/// with nothing to show says so), and page-table memory per policy. Bars take the policy's colour; the legend
/// names them.
/// </summary>
internal sealed class ChartsSection : IReportSection
{
    private const int Left = 170, ChartWidth = 600, LabelRoom = 230;

    public void Append(StringBuilder html, ScenarioResult result)
    {
        html.Append("<h2 id=\"charts\">Charts</h2>\n");
        if (result.Runs.Count > 1)
        {
            html.Append("<p class=\"legend\">");
            for (int r = 0; r < result.Runs.Count; r++)
                html.Append("<span><i class=\"sw\" style=\"background:").Append(Colour(r)).Append("\"></i>").Append(Html.E(result.Runs[r].Policy)).Append("</span>");
            html.Append("</p>\n");
        }
        PerPhase(html, "faults", "Stage-2 faults per phase", result, (run, p) => run.Phases[p].Faults.Faults, v => Format.Count((long)v));
        PerPhase(html, "time", "Estimated host time per phase (" + result.Runs[0].Profile.Name + ")", result, (run, p) => run.Phases[p].EstimatedNs, Format.Duration);
        PerPolicy(html, "Page-table memory at the end", result, run => run.Final.TableBytes, v => Format.Bytes(v));
    }

    internal static string Colour(int run) => Html.PolicyColours[run % Html.PolicyColours.Length];

    internal static void PerPhase(StringBuilder html, string id, string title, ScenarioResult result, Func<PolicyRun, int, double> value, Func<double, string> label)
    {
        PolicyRun first = result.Runs[0];
        double Value(PolicyRun run, int p) => p < run.Phases.Count ? value(run, p) : 0;
        List<PhaseRow> rows = PhaseRows.Of([.. Enumerable.Range(0, first.Phases.Count).Where(p => result.Runs.Any(run => Value(run, p) > 0))]);
        html.Append("<h3>").Append(Html.E(title)).Append("</h3>\n");
        if (rows.Count == 0)
        {
            html.Append("<p class=\"note\">None in any phase.</p>\n");
            return;
        }
        // A long timeline's middle phases are left out of the chart (a bar of their sum would set the scale)
        // and named in a note under it.
        int folded = rows.FindIndex(r => r.IsFolded);
        var phases = rows.Where(r => !r.IsFolded).Select(r => r.First).ToList();
        double max = phases.Max(p => result.Runs.Max(run => Value(run, p)));
        const int rowHeight = 16, phaseGap = 10;
        int height = phases.Count * (result.Runs.Count * rowHeight + phaseGap) + 4;
        int width = Left + ChartWidth + LabelRoom;
        html.Append($"<svg class=\"chart\" data-chart=\"{id}\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" xmlns=\"http://www.w3.org/2000/svg\">\n");
        int y = 2;
        foreach (int p in phases)
        {
            html.Append($"<text x=\"0\" y=\"{y + 12}\" font-size=\"13\">{Html.E(first.Phases[p].Name)}</text>\n");
            for (int r = 0; r < result.Runs.Count; r++)
            {
                PolicyRun run = result.Runs[r];
                double v = Value(run, p);
                double w = max > 0 ? Math.Max(v > 0 ? 1 : 0, v / max * ChartWidth) : 0;
                html.Append($"<rect x=\"{Left}\" y=\"{y + 1}\" width=\"{Html.N(w)}\" height=\"{rowHeight - 4}\" fill=\"{Colour(r)}\"><title>{Html.E(run.Policy)}: {Html.E(label(v))}</title></rect>");
                html.Append($"<text x=\"{Html.N(Left + w + 4)}\" y=\"{y + 11}\" font-size=\"11\">{Html.E(run.Policy)} {Html.E(label(v))}</text>\n");
                y += rowHeight;
            }
            y += phaseGap;
        }
        html.Append("</svg>\n");
        if (folded >= 0)
        {
            PhaseRow left = rows[folded];
            string sums = string.Join(", ", result.Runs.Select(run => $"{run.Policy} {label(left.Sum(p => Value(run, p)))}"));
            html.Append("<p class=\"note\">").Append(Html.E($"Not drawn: {left.Folded(first)}, together {sums}. The JSON output (--format json) has every phase.")).Append("</p>\n");
        }
    }

    internal static void PerPolicy(StringBuilder html, string title, ScenarioResult result, Func<PolicyRun, double> value, Func<double, string> label, string id = "tables")
    {
        double max = result.Runs.Max(value);
        const int rowHeight = 20;
        int width = Left + ChartWidth + LabelRoom, height = result.Runs.Count * rowHeight + 6;
        html.Append("<h3>").Append(Html.E(title)).Append("</h3>\n");
        html.Append($"<svg class=\"chart\" data-chart=\"{id}\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" xmlns=\"http://www.w3.org/2000/svg\">\n");
        int y = 3;
        for (int r = 0; r < result.Runs.Count; r++)
        {
            double v = value(result.Runs[r]);
            double w = max > 0 ? Math.Max(v > 0 ? 1 : 0, v / max * ChartWidth) : 0;
            html.Append($"<text x=\"0\" y=\"{y + 13}\" font-size=\"13\">{Html.E(result.Runs[r].Policy)}</text>");
            html.Append($"<rect x=\"{Left}\" y=\"{y + 2}\" width=\"{Html.N(w)}\" height=\"{rowHeight - 6}\" fill=\"{Colour(r)}\"/>");
            html.Append($"<text x=\"{Html.N(Left + w + 4)}\" y=\"{y + 13}\" font-size=\"12\">{Html.E(label(v))}</text>\n");
            y += rowHeight;
        }
        html.Append("</svg>\n");
    }
}
