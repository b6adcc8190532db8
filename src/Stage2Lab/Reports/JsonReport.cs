using System.Text;
using System.Text.Json;
using Stage2Lab.Arch;
using Stage2Lab.Kvm;
using Stage2Lab.PageTables;
using Stage2Lab.Simulation.Invariants;
using Stage2Lab.Simulation.Playback;
using Stage2Lab.Simulation.Runs;

namespace Stage2Lab.Reports;

/// <summary>
/// The JSON output of `run` and `compare` (schema "stage2lab.result/2", documented in docs/output-format.md).
/// Keys come in a fixed order and numbers are exact integers (times in nanoseconds), so the same scenario and
/// seed give byte-identical JSON.
/// </summary>
public static class JsonReport
{
    public const string Schema = "stage2lab.result/2";

    public static string Render(ScenarioResult result)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
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
            foreach (EventRefusal r in p.Refusals)
                w.WriteStringValue(RefusalText.Describe(r));
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
        if (run.Final.ShadowLeaves is { } shadow)
            WriteLevels(w, "shadowLeaves", shadow);
        w.WriteEndObject();

        w.WriteStartObject("totals");
        WriteFaults(w, run.TotalFaults);
        WriteEvents(w, run.TotalEvents);
        w.WriteNumber("estimatedNs", (long)Math.Round(run.TotalEstimatedNs));
        w.WriteEndObject();

        w.WriteStartArray("decisions");
        foreach (DecisionGroup d in run.Decisions)
        {
            w.WriteStartObject();
            w.WriteString("phase", d.Phase);
            w.WriteNumber("event", d.EventNumber);
            w.WriteNumber("firstAccessIndex", d.FirstAccessIndex);
            w.WriteNumber("count", d.Count);
            w.WriteNumber("estimatedNsEach", (long)Math.Round(d.EstimatedNsEach));
            w.WriteNumber("estimatedNsTotal", (long)Math.Round(d.EstimatedNsTotal));
            DecisionJson.Write(w, d.Representative);
            WriteEvents(w, d.Representative.Events);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        if (run.Explained is { } explained)
        {
            w.WriteStartObject("explained");
            w.WriteString("pick", JsonNamingPolicy.CamelCase.ConvertName(explained.Pick.ToString()));
            w.WriteString("note", DecisionTables.PickNote(explained));
            w.WriteString("phase", explained.Phase);
            w.WriteNumber("event", explained.EventNumber);
            w.WriteNumber("accessIndex", explained.AccessIndex);
            DecisionJson.Write(w, explained.Record);
            WriteEvents(w, explained.Record.Events);
            w.WriteEndObject();
        }
        w.WriteStartArray("violations");
        foreach (InvariantViolation v in run.Violations)
            w.WriteStringValue(v.ToString());
        w.WriteEndArray();
        w.WriteEndObject();
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
        w.WriteNumber("forwardedToL1", f.ForwardedToL1);
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
