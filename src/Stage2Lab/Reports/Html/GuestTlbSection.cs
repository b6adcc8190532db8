using System.Text;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Tlb;

namespace Stage2Lab.Reports;

/// <summary>
/// The guest TLB model (docs/tlb-model.md), when the runs had it on: per policy the nested walks, their memory
/// references and the estimated guest translation time, then that time per phase; a single run also gets its TLB
/// phase table. The assumptions behind the time are stated under the charts.
/// </summary>
internal sealed class GuestTlbSection : IReportSection
{
    public void Append(StringBuilder html, ScenarioResult result)
    {
        if (result.Runs.FirstOrDefault(r => r.TlbProfile is not null)?.TlbProfile is not { } profile)
            return;
        html.Append("<h2 id=\"guest-tlb\">Guest TLB (").Append(Html.E(profile.Name)).Append(")</h2>\n");
        if (result.Runs.Count == 1)
        {
            foreach (ReportTable table in TlbTables.Phases(result.Runs[0]))
                Html.Table(html, table, "tlb-phases");
        }
        static TlbCounters Total(PolicyRun run) => run.TotalTlb ?? default;
        string Count(double v) => Format.Count((long)v);
        ChartsSection.PerPolicy(html, "Nested walks (walker.walks)", result, run => Total(run)[TlbStat.Walks], Count, "tlb-walks");
        ChartsSection.PerPolicy(html, "Walk memory references (walker.memRefs)", result, run => Total(run)[TlbStat.WalkMemRefs], Count, "tlb-refs");
        ChartsSection.PerPolicy(html, "Estimated guest translation time", result, run => run.TotalEstimatedGuestNs, Format.Duration, "tlb-time");
        ChartsSection.PerPhase(html, "tlb-phase-time", "Estimated guest translation time per phase", result,
            (run, p) => run.Phases[p].EstimatedGuestNs, Format.Duration);
        html.Append("<p class=\"note\">").Append(Html.E(TlbTables.Assumptions(profile))).Append("</p>\n");
    }
}
