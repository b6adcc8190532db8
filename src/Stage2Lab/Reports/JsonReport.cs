using System.Text;
using System.Text.Json;
using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using Stage2Lab.PageTables;
using Stage2Lab.Simulation.Runs;

namespace Stage2Lab.Reports;

/// <summary>
/// The JSON output of `run` and `compare` (schema "stage2lab.result/1", documented in docs/output-format.md).
/// Keys come in a fixed order and numbers are exact integers (times in nanoseconds), so the same scenario and
/// seed give byte-identical JSON.
/// </summary>
public static class JsonReport
{
    public const string Schema = "stage2lab.result/1";

    public static string Render(ScenarioResult result)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("schema", Schema);
            w.WriteString("scenario", result.Scenario);
            w.WriteString("file", Path.GetFileName(result.File));
            if (result.Description is not null)
                w.WriteString("description", result.Description);
            w.WriteStartArray("policies");
            foreach (PolicyRun run in result.Runs)
                WriteRun(w, run);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    private static void WriteRun(Utf8JsonWriter w, PolicyRun run)
    {
        w.WriteStartObject();
        w.WriteString("policy", run.Policy);
        w.WriteString("description", run.Description);
        w.WriteString("costProfile", run.Profile.Name);
        w.WriteString("granule", run.Granule.Name);
        w.WriteStartArray("phases");
        foreach (PhaseResult p in run.Phases)
        {
            w.WriteStartObject();
            w.WriteString("name", p.Name);
            w.WriteString("kind", p.Kind);
            w.WriteNumber("accesses", p.Accesses);
            WriteFaults(w, p.Faults);
            WriteEvents(w, p.Events);
            WriteLevels(w, "tablePages", p.TablePages);
            w.WriteNumber("tableBytes", p.TableBytes);
            w.WriteNumber("estimatedNs", (long)Math.Round(p.EstimatedNs));
            w.WriteNumber("dirtyPagesHarvested", p.DirtyPagesHarvested);
            w.WriteStartArray("refusals");
            foreach (string r in p.Refusals)
                w.WriteStringValue(r);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();

        w.WriteStartObject("final");
        WriteLevels(w, "leaves", run.Final.Leaves);
        w.WriteStartObject("mappedBytes");
        for (int level = 0; level < 4; level++)
            w.WriteNumber("L" + level, run.Final.MappedBytes[level]);
        w.WriteEndObject();
        WriteLevels(w, "tablePages", run.Final.TablePages);
        w.WriteNumber("tableBytes", run.Final.TableBytes);
        w.WriteNumber("dirtyPages", run.Final.DirtyPages);
        w.WriteEndObject();

        w.WriteStartObject("totals");
        WriteFaults(w, run.TotalFaults);
        WriteEvents(w, run.TotalEvents);
        w.WriteNumber("estimatedNs", (long)Math.Round(run.TotalEstimatedNs));
        w.WriteEndObject();

        w.WriteStartArray("costliestDecisions");
        foreach (CostlyDecision d in run.CostliestDecisions)
        {
            w.WriteStartObject();
            w.WriteString("phase", d.Phase);
            w.WriteNumber("accessIndex", d.AccessIndex);
            w.WriteNumber("estimatedNs", (long)Math.Round(d.EstimatedNs));
            WriteDecision(w, d.Record);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        if (run.Explained is not null)
        {
            w.WriteStartObject("explained");
            if (run.ExplainedNote is not null)
                w.WriteString("note", run.ExplainedNote);
            WriteDecision(w, run.Explained);
            w.WriteEndObject();
        }
        w.WriteStartArray("violations");
        foreach (string v in run.Violations)
            w.WriteStringValue(v);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteDecision(Utf8JsonWriter w, DecisionRecord d)
    {
        w.WriteString("ipa", Format.Hex(d.Ipa));
        w.WriteString("access", d.Access.ToString().ToLowerInvariant());
        w.WriteString("outcome", DecisionText.Outcome(d.Result));
        if (d.Slot is not null)
            w.WriteString("memslot", d.Slot);
        if (d.Vma is not null)
            w.WriteString("vma", d.Vma);
        w.WriteStartArray("steps");
        foreach (DecisionStep step in d.Steps)
        {
            w.WriteStartObject();
            w.WriteString("function", step.Function);
            if (step.Passed is { } passed)
                w.WriteBoolean("passed", passed);
            w.WriteString("text", step.Text);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        WriteEvents(w, d.Events);
    }

    private static void WriteFaults(Utf8JsonWriter w, in VmCounters f)
    {
        w.WriteStartObject("faults");
        w.WriteNumber("total", f.Faults);
        w.WriteNumber("hits", f.Hits);
        w.WriteNumber("mapped", f.Mapped);
        w.WriteNumber("relaxed", f.Relaxed);
        w.WriteNumber("mmio", f.MmioExits);
        w.WriteNumber("retry", f.Retries);
        w.WriteNumber("errors", f.Errors);
        w.WriteNumber("injected", f.Injected);
        w.WriteNumber("dirtyPagesMarked", f.DirtyPagesMarked);
        w.WriteEndObject();
    }

    private static void WriteEvents(Utf8JsonWriter w, in Stage2Counters e)
    {
        w.WriteStartObject("events");
        for (int i = 0; i < Stage2Counters.Count; i++)
            w.WriteNumber(CounterNames.Of((Stage2Counter)i), e[(Stage2Counter)i]);
        w.WriteEndObject();
    }

    private static void WriteLevels(Utf8JsonWriter w, string name, long[] values)
    {
        w.WriteStartObject(name);
        for (int level = 0; level < values.Length; level++)
            w.WriteNumber("L" + level, values[level]);
        w.WriteEndObject();
    }
}
