using System.Text;
using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Runs;

namespace Stage2Lab.Reports;

/// <summary>
/// The representative decisions: one per distinct (memslot, outcome, size, binding constraint) with its count,
/// each folded under its heading (the costliest open), so a comparison of many policies stays short.
/// </summary>
internal sealed class DecisionsSection : IReportSection
{
    public void Append(StringBuilder html, ScenarioResult result)
    {
        if (!result.Runs.Any(r => r.Decisions.Count > 0))
            return;
        html.Append("<h2 id=\"decisions\">Decisions</h2>\n<p class=\"note\">One representative per distinct kind of decision (memslot, outcome, size and binding constraint), the costliest in total first, with how many there were; open one to see it step by step.</p>\n");
        foreach (PolicyRun run in result.Runs.Where(r => r.Decisions.Count > 0))
        {
            html.Append("<h3>").Append(Html.E(run.Policy)).Append("</h3>\n<div class=\"decisions\">\n");
            int shown = 0;
            foreach (DecisionGroup d in run.Decisions.Take(DecisionTables.Shown))
            {
                DecisionRecord r = d.Representative;
                string outcome = r.SlotChange is not null ? $"memslot {r.SlotChange.ToString()!.ToLowerInvariant()}" : DecisionText.Outcome(r.Result);
                html.Append(shown == 0 && result.Runs.Count == 1 ? "<details open>" : "<details>")
                    .Append("<summary>").Append(Html.E(DecisionTables.Heading(d))).Append(" — ").Append(Html.E(outcome)).Append("</summary><pre>")
                    .Append(Html.E(DecisionText.Render(r))).Append("</pre></details>\n");
                shown++;
            }
            if (run.Decisions.Count > DecisionTables.Shown)
                html.Append("<p class=\"note\">... and ").Append(run.Decisions.Count - DecisionTables.Shown).Append(" more kinds (see --format json).</p>\n");
            html.Append("</div>\n");
        }
    }
}
