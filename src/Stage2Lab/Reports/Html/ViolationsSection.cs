using System.Text;
using Stage2Lab.Simulation.Invariants;
using Stage2Lab.Simulation.Runs;

namespace Stage2Lab.Reports;

/// <summary>Every invariant violation the checker found, per policy, with the fault that caused the first.</summary>
internal sealed class ViolationsSection : IReportSection
{
    public void Append(StringBuilder html, ScenarioResult result)
    {
        if (!result.Runs.Any(r => r.Violations.Count > 0))
            return;
        html.Append("<h2 id=\"violations\">Invariant violations</h2>\n");
        foreach (PolicyRun run in result.Runs.Where(r => r.Violations.Count > 0))
        {
            html.Append("<h3>").Append(Html.E(run.Policy)).Append(": <span class=\"bad\">").Append(run.Violations.Count)
                .Append(run.Violations.Count == 1 ? " violation" : " violations").Append("</span></h3>\n<ol class=\"violations\">\n");
            foreach (InvariantViolation v in run.Violations)
            {
                string when = v.EventIndex >= 0 ? $"after timeline event {v.EventIndex}" : "";
                html.Append("<li data-invariant=\"").Append(Html.E(v.Kind.ToString())).Append("\"><b>").Append(Html.E(v.Kind.ToString())).Append("</b> ")
                    .Append(Html.E(when)).Append(": ").Append(Html.E(v.Message)).Append("</li>\n");
            }
            html.Append("</ol>\n");
            if (run.FirstViolatingFault is { } fault)
            {
                html.Append("<details open><summary>The fault that caused the first violation</summary><pre>")
                    .Append(Html.E(DecisionText.Render(fault))).Append("</pre></details>\n");
            }
        }
    }
}
