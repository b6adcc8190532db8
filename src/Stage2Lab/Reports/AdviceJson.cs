using System.Text;
using System.Text.Json;
using Stage2Lab.Simulation.Advice;

namespace Stage2Lab.Reports;

/// <summary>
/// The JSON output of `advise` (schema "stage2lab.advice/1", documented in docs/output-format.md): the slots with
/// their sizes and binding constraints, the verified suggestions best first with their before/after metrics, and the
/// changes tried but not shown. Keys in a fixed order, times in whole nanoseconds, addresses as hex strings.
/// </summary>
public static class AdviceJson
{
    public const string Schema = "stage2lab.advice/1";

    public static string Render(AdviceResult result)
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
            foreach (string p in result.Policies)
                w.WriteStringValue(p);
            w.WriteEndArray();
            // AdviceTime: the host's estimated time, plus the guest's translation time when the runs had the TLB model.
            string? tlb = result.Baselines.FirstOrDefault(b => b.TlbProfile is not null)?.TlbProfile?.Name;
            w.WriteString("time", tlb is null ? "host" : "host+guest");
            if (tlb is not null)
                w.WriteString("tlbProfile", tlb);
            w.WriteNumber("runs", result.Runs);
            w.WriteStartArray("slots");
            foreach (SlotAdvice slot in result.Slots)
                WriteSlot(w, slot);
            w.WriteEndArray();
            w.WriteStartArray("suggestions");
            for (int i = 0; i < result.Suggestions.Count; i++)
                WriteSuggestion(w, i + 1, result.Suggestions[i]);
            w.WriteEndArray();
            w.WriteStartArray("notShown");
            foreach (TriedChange t in result.NotShown)
            {
                w.WriteStartObject();
                w.WriteString("kind", ChangeKinds.Name(t.Change.Kind));
                w.WriteString("target", AdviceText.Target(t.Change));
                w.WriteString("policy", t.Policy);
                w.WriteString("reason", JsonNamingPolicy.CamelCase.ConvertName(t.Reason.ToString()));
                w.WriteString("text", AdviceText.Reason(t));
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    private static void WriteSlot(Utf8JsonWriter w, SlotAdvice slot)
    {
        w.WriteStartObject();
        w.WriteString("policy", slot.Policy);
        w.WriteNumber("slot", slot.SlotId);
        w.WriteString("ipa", Format.Hex(slot.Ipa));
        w.WriteNumber("sizeBytes", slot.SizeBytes);
        w.WriteString("hva", Format.Hex(slot.Hva));
        Strings(w, "mappings", slot.Mappings);
        if (slot.Source is not null)
            w.WriteString("source", slot.Source);
        w.WriteStartArray("faultsBySize");
        foreach (SizeCount s in slot.FaultSizes)
        {
            w.WriteStartObject();
            w.WriteNumber("sizeBytes", s.SizeBytes);
            w.WriteNumber("faults", s.Faults);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteNumber("pagesMappedAtCreation", slot.PagesMappedAtCreation);
        Levels(w, "leavesAtEnd", slot.LeavesAtEnd);
        w.WriteStartArray("constraints");
        foreach (SlotConstraint c in slot.Constraints)
        {
            w.WriteStartObject();
            w.WriteString("phase", c.Phase);
            w.WriteNumber("faults", c.Count);
            w.WriteNumber("sizeBytes", c.SizeBytes);
            w.WritePropertyName("binding");
            DecisionJson.Step(c.Step, c.Representative).WriteTo(w);
            Strings(w, "liftedBy", c.Levers.Select(ChangeKinds.Name));
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteSuggestion(Utf8JsonWriter w, int rank, Suggestion s)
    {
        w.WriteStartObject();
        w.WriteNumber("rank", rank);
        w.WriteString("kind", ChangeKinds.Name(s.Change.Kind));
        w.WriteString("target", AdviceText.Target(s.Change));
        w.WriteString("change", AdviceText.Change(s.Change));
        w.WriteString("policy", s.Policy);
        w.WriteNumber("savedNs", (long)Math.Round(s.SavedNs));
        w.WriteStartObject("before");
        WriteMetrics(w, s.Before);
        w.WriteEndObject();
        w.WriteStartObject("after");
        WriteMetrics(w, s.After);
        w.WriteEndObject();
        if (s.Change.SlotId is { } slot)
            w.WriteNumber("slot", slot);
        Strings(w, "mappings", s.Change.Mappings);
        w.WritePropertyName("lifts");
        DecisionJson.Step(s.Lifts, s.From).WriteTo(w);
        w.WriteStartObject("details");
        WriteDetails(w, s.Change);
        w.WriteEndObject();
        w.WriteStartArray("sources");
        foreach (ItemSource source in s.Sources)
        {
            w.WriteStartObject();
            w.WriteString("item", source.Item);
            w.WriteString("records", source.Records);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteMetrics(Utf8JsonWriter w, RunMetrics m)
    {
        w.WriteString("granule", m.Granule.Name);
        w.WriteNumber("faults", m.Faults);
        Levels(w, "leaves", m.Leaves);
        w.WriteNumber("tableBytes", m.TableBytes);
        w.WriteNumber("tlbInvalidations", m.TlbInvalidations);
        w.WriteNumber("cleanedBytes", m.CleanedBytes);
        w.WriteNumber("hostEstimatedNs", (long)Math.Round(m.HostEstimatedNs));
        w.WriteNumber("guestEstimatedNs", (long)Math.Round(m.GuestEstimatedNs));
        w.WriteNumber("estimatedNs", (long)Math.Round(m.EstimatedNs));
    }

    /// <summary>The change's own numbers, by kind (docs/output-format.md lists them).</summary>
    private static void WriteDetails(Utf8JsonWriter w, ScenarioChange change)
    {
        switch (change)
        {
            case AlignHvaChange a:
                w.WriteString("oldHva", Format.Hex(a.OldStart));
                w.WriteString("newHva", Format.Hex(a.NewStart));
                w.WriteNumber("spanBytes", a.SpanBytes);
                w.WriteNumber("blockBytes", a.BlockBytes);
                w.WriteString("against", a.Against == AlignReference.Pa ? "pa" : "ipa");
                break;
            case AlignIpaChange a:
                w.WriteString("oldIpa", Format.Hex(a.OldIpa));
                w.WriteString("newIpa", Format.Hex(a.NewIpa));
                w.WriteNumber("sizeBytes", a.SizeBytes);
                w.WriteNumber("blockBytes", a.BlockBytes);
                break;
            case ResizeSlotChange r:
                w.WriteString("oldIpa", Format.Hex(r.OldIpa));
                w.WriteNumber("oldSizeBytes", r.OldSizeBytes);
                w.WriteString("newIpa", Format.Hex(r.NewIpa));
                w.WriteNumber("newSizeBytes", r.NewSizeBytes);
                w.WriteNumber("growthBytes", r.GrowthBytes);
                w.WriteNumber("blockBytes", r.BlockBytes);
                w.WriteString("newMappingHva", Format.Hex(r.NewMappingStart));
                w.WriteNumber("newMappingSizeBytes", r.NewMappingSizeBytes);
                break;
            case SplitSlotChange sp:
                w.WriteString("unlogged", sp.Unlogged);
                w.WriteStartArray("pieces");
                foreach (SplitPiece p in sp.Pieces)
                {
                    w.WriteStartObject();
                    w.WriteNumber("slot", p.Id);
                    w.WriteString("ipa", Format.Hex(p.Ipa));
                    w.WriteNumber("sizeBytes", p.SizeBytes);
                    w.WriteString("mapping", p.Mapping);
                    w.WriteBoolean("logged", p.Logged);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                break;
            case ThpChange t:
                w.WriteString("hostThpBefore", t.HostBefore.ToString().ToLowerInvariant());
                w.WriteString("hostThpAfter", t.HostAfter.ToString().ToLowerInvariant());
                w.WriteString("madviseBefore", t.AdviceBefore switch { true => "hugepage", false => "nohugepage", null => "none" });
                w.WriteString("madviseAfter", "hugepage");
                break;
            case HugetlbChange h:
                w.WriteNumber("hugePageSizeBytes", h.HugePageBytes);
                w.WriteString("oldHva", Format.Hex(h.OldStart));
                w.WriteString("newHva", Format.Hex(h.NewStart));
                w.WriteNumber("oldSizeBytes", h.OldSizeBytes);
                w.WriteNumber("newSizeBytes", h.NewSizeBytes);
                break;
            case GranuleChange g:
                w.WriteString("from", g.From.Name);
                w.WriteString("to", g.To.Name);
                break;
            case NoDirtyLoggingChange n:
                w.WriteBoolean("loggedFromCreation", n.LoggedFromCreation);
                w.WriteNumber("eventsDropped", n.EventsDropped);
                break;
        }
    }

    private static void Levels(Utf8JsonWriter w, string name, IReadOnlyList<long> values)
    {
        w.WriteStartObject(name);
        for (int level = 0; level < values.Count; level++)
            w.WriteNumber("L" + level, values[level]);
        w.WriteEndObject();
    }

    private static void Strings(Utf8JsonWriter w, string name, IEnumerable<string> values)
    {
        w.WriteStartArray(name);
        foreach (string v in values)
            w.WriteStringValue(v);
        w.WriteEndArray();
    }
}
