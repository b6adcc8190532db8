using System.Text;
using Stage2Lab.Simulation.Runs;

namespace Stage2Lab.Reports;

/// <summary>The fault explain picked, with what was picked and why.</summary>
internal sealed class ExplainedSection : IReportSection
{
    public void Append(StringBuilder html, ScenarioResult result)
    {
        if (!result.Runs.Any(r => r.Explained is not null))
            return;
        html.Append("<h2 id=\"explained\">Explained fault</h2>\n");
        foreach (PolicyRun run in result.Runs)
        {
            if (run.Explained is not { } explained)
                continue;
            html.Append("<p><b>Picked:</b> ").Append(Html.E(DecisionTables.PickNote(explained))).Append("</p>\n");
            html.Append("<pre>").Append(Html.E(DecisionText.Render(explained.Record))).Append("</pre>\n");
        }
    }
}
