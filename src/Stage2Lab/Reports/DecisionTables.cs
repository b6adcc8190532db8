using System.Text;
using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Runs;

namespace Stage2Lab.Reports;

/// <summary>The decisions a run shows: one representative per group, and the one `explain` picked.</summary>
public static class DecisionTables
{
    /// <summary>How many groups a report shows per policy (the costliest in total).</summary>
    public const int Shown = 8;

    public static string Heading(DecisionGroup d)
    {
        string what = d.Representative.SlotChange is not null ? "memslot ioctl" : d.Count == 1 ? "fault" : "faults";
        string first = d.FirstAccessIndex >= 0 ? $", first at access #{d.FirstAccessIndex}" : "";
        return $"{d.Phase} (event {d.EventNumber}): {Format.Count(d.Count)} {what} like this{first}; ~{Format.Duration(d.EstimatedNsEach)} each, ~{Format.Duration(d.EstimatedNsTotal)} in all";
    }

    /// <summary>All groups of a run, each heading followed by its representative decision.</summary>
    public static string Render(PolicyRun run)
    {
        if (run.Decisions.Count == 0)
            return "";
        var text = new StringBuilder($"Decisions ({run.Policy}), one per kind, costliest first:\n");
        foreach (DecisionGroup d in run.Decisions.Take(Shown))
            text.Append('[').Append(Heading(d)).Append("]\n").Append(DecisionText.Render(d.Representative));
        if (run.Decisions.Count > Shown)
            text.Append($"... and {run.Decisions.Count - Shown} more kinds (see --format json).\n");
        return text.ToString();
    }

    /// <summary>All groups of a run as Markdown: a heading per group, its decision in a code block.</summary>
    public static string RenderMarkdown(PolicyRun run)
    {
        if (run.Decisions.Count == 0)
            return "";
        var md = new StringBuilder($"### Decisions ({run.Policy}), one per kind, costliest first\n\n");
        foreach (DecisionGroup d in run.Decisions.Take(Shown))
            md.Append("**").Append(Heading(d)).Append("**\n\n```\n").Append(DecisionText.Render(d.Representative)).Append("```\n\n");
        if (run.Decisions.Count > Shown)
            md.Append($"... and {run.Decisions.Count - Shown} more kinds (see --format json).\n");
        return md.ToString();
    }

    /// <summary>Which decision explain shows, and why.</summary>
    public static string PickNote(ExplainedDecision e)
    {
        string asked = e.AskedEvent is { } n ? $"event {n}{(e.AskedPhase is { } name ? $" ({name})" : "")}" : "";
        string where = $"{e.Phase} (event {e.EventNumber}), access #{e.AccessIndex}";
        string what = e.Pick switch
        {
            ExplainPick.FaultOnPage => $"the first fault on this page: {where}",
            ExplainPick.LeafCoveringPage => $"the first fault that mapped a leaf covering this page: {where}",
            _ => e.Record.Result.Outcome == FaultOutcome.Hit
                ? "no fault in the timeline touched or mapped this IPA, yet a read hits it: it was mapped without a fault (kernels before 5.14 map a VM_PFNMAP slot when it is created); shown: that read, issued after the last event"
                : "no fault in the timeline touched or mapped this IPA; shown: a read issued after the last event",
        };
        if (e.OutsideAskedEvent)
            return $"no fault during {asked} touched or mapped this IPA; shown instead: {what}";
        return asked.Length > 0 ? $"{what} (asked: {asked})" : what;
    }
}
