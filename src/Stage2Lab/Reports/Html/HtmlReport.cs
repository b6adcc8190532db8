using System.Text;
using Stage2Lab.Simulation.Runs;

namespace Stage2Lab.Reports;

/// <summary>One part of the HTML report: appends its heading and content, or nothing when it has nothing to show.</summary>
public interface IReportSection
{
    void Append(StringBuilder html, ScenarioResult result);
}

/// <summary>
/// One self-contained HTML page (no scripts, no network) made of sections, in the order of
/// <see cref="Sections"/>: the summary (a single run's phase table, or the comparison), the invariant
/// violations, an IPA map per policy (every stage-2 leaf to scale over an address axis, with memslot and VMA
/// edges), charts, the guest TLB model's charts, the representative decisions, and the explained fault. A new kind of result adds its own
/// section class and one line to <see cref="Sections"/>.
/// </summary>
public static class HtmlReport
{
    /// <summary>The sections, in page order.</summary>
    public static IReadOnlyList<IReportSection> Sections { get; } =
    [
        new SummarySection(),
        new ViolationsSection(),
        new IpaMapSection(),
        new ChartsSection(),
        new GuestTlbSection(),
        new DecisionsSection(),
        new ExplainedSection(),
    ];

    public static string Render(ScenarioResult result)
    {
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
        html.Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        html.Append("<title>").Append(Html.E(result.Scenario)).Append(" — Stage2Lab</title>\n");
        html.Append("<style>\n").Append(Html.Style).Append("</style></head><body>\n");
        html.Append("<h1>").Append(Html.E(result.Scenario)).Append("</h1>\n");
        html.Append("<p class=\"subtitle\">").Append(Html.E(Subtitle(result))).Append("</p>\n");
        if (result.Description is not null)
            html.Append("<p>").Append(Html.E(result.Description)).Append("</p>\n");
        html.Append("<p class=\"note\">Scenario file ").Append(Html.E(Path.GetFileName(result.File)))
            .Append(". Produced by Stage2Lab ").Append(Html.E(JsonReport.ToolVersion))
            .Append("; every number comes from the model of the kernel's own page-table and fault-path code.</p>\n");
        foreach (IReportSection section in Sections)
            section.Append(html, result);
        html.Append("</body></html>\n");
        return html.ToString();
    }

    private static string Subtitle(ScenarioResult result) => result.Runs.Count == 1
        ? $"One policy: {result.Runs[0].Policy} ({result.Runs[0].Description})"
        : $"{result.Runs.Count} policies compared: {string.Join(", ", result.Runs.Select(r => r.Policy))}";
}
