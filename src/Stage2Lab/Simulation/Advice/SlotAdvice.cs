using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Runs;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Advice;

/// <summary>How many faults of a slot got a mapping of one size.</summary>
public readonly record struct SizeCount(ulong SizeBytes, long Faults);

/// <summary>
/// One binding constraint of a slot's faults: the step that stopped a larger mapping (with its numbers), how many
/// faults it bound and what they got, the decision it comes from, and the kinds of change that can lift it.
/// </summary>
public sealed record SlotConstraint(DecisionStep Step, DecisionRecord Representative, long Count, ulong SizeBytes, string Phase, IReadOnlyList<ChangeKind> Levers);

/// <summary>A memslot under one policy: the sizes its faults got and what bound them.</summary>
public sealed record SlotAdvice(
    string Policy,
    int SlotId,
    ulong Ipa,
    ulong SizeBytes,
    ulong Hva,
    IReadOnlyList<string> Mappings,
    string? Source,
    IReadOnlyList<SizeCount> FaultSizes,
    long PagesMappedAtCreation,
    IReadOnlyList<long> LeavesAtEnd,
    IReadOnlyList<SlotConstraint> Constraints);

/// <summary>Builds the per-slot view of a run from its representative decisions and its final stage 2.</summary>
public static class SlotSummaries
{
    public static List<SlotAdvice> Of(Scenario s, PolicyRun run, ScenarioSources sources)
    {
        var slots = new SortedDictionary<int, MemslotInfo>();
        foreach (SlotSnapshot snap in run.Final.Memslots)
            slots[snap.Id] = new MemslotInfo(snap.Id, snap.Ipa, snap.SizeBytes, snap.Hva, default);
        foreach (DecisionGroup g in run.Decisions)
        {
            if (g.Representative.Slot is { } info)
                slots.TryAdd(info.Id, info);
        }
        var result = new List<SlotAdvice>();
        foreach ((int id, MemslotInfo slot) in slots)
        {
            var sizes = new SortedDictionary<ulong, long>();
            long pagesAtCreation = 0;
            var constraints = new List<SlotConstraint>();
            foreach (DecisionGroup g in run.Decisions)
            {
                DecisionRecord r = g.Representative;
                if (r.Slot?.Id != id)
                    continue;
                if (r.SlotChange is null && r.Result.Outcome is FaultOutcome.Mapped or FaultOutcome.Relaxed)
                    sizes[r.Result.SizeBytes] = sizes.GetValueOrDefault(r.Result.SizeBytes) + g.Count;
                ulong size = r.Result.SizeBytes;
                foreach (DecisionStep step in r.Steps)
                {
                    if (step is IoremapAtCreationStep io)
                    {
                        pagesAtCreation += (long)io.Pages * g.Count;
                        size = io.SizeBytes / Math.Max(1, io.Pages);
                    }
                }
                if (ConstraintLevers.BindingOf(r) is { } binding)
                    constraints.Add(new SlotConstraint(binding, r, g.Count, size, g.Phase, ConstraintLevers.For(binding, r)));
            }
            MemslotSpec? spec = ScenarioLayout.SlotSpecs(s, id).FirstOrDefault();
            result.Add(new SlotAdvice(
                run.Policy,
                id,
                slot.Ipa,
                slot.SizeBytes,
                slot.Hva,
                [.. ScenarioLayout.MappingsOver(s, slot.Hva, slot.SizeBytes).Select(m => m.Name)],
                spec is null ? null : sources.For(spec.Where),
                [.. sizes.Reverse().Select(kv => new SizeCount(kv.Key, kv.Value))],
                pagesAtCreation,
                LeavesIn(run.Final, slot.Ipa, slot.IpaEnd),
                constraints));
        }
        return result;
    }

    /// <summary>Live leaves per level (L0..L3) inside [ipa, end) at the end of the timeline.</summary>
    private static long[] LeavesIn(FinalState final, ulong ipa, ulong end)
    {
        var leaves = new long[4];
        foreach (LeafRun r in final.Runs)
        {
            ulong from = Math.Max(r.Ipa, ipa);
            ulong to = Math.Min(r.EndIpa, end);
            if (from < to)
                leaves[r.Level] += (long)((to - from) / r.LeafSizeBytes);
        }
        return leaves;
    }
}
