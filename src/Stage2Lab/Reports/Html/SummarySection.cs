using System.Text;
using Stage2Lab.Simulation.Runs;

namespace Stage2Lab.Reports;

/// <summary>A single run: its phase table; several: the comparison with ratios against the first.</summary>
internal sealed class SummarySection : IReportSection
{
    public void Append(StringBuilder html, ScenarioResult result)
    {
        if (result.Runs.Count == 1)
        {
            html.Append("<h2 id=\"phases\">Phase by phase</h2>\n");
            Html.Table(html, RunTables.Phases(result.Runs[0]), "phases");
            return;
        }
        html.Append("<h2 id=\"compare\">Policies compared</h2>\n");
        Html.Table(html, RunTables.Compare(result), "compare");
    }
}
