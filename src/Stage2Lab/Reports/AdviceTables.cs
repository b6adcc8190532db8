using Stage2Lab.Arch;
using Stage2Lab.Simulation.Advice;

namespace Stage2Lab.Reports;

/// <summary>advise as tables (terminal and Markdown): each slot's sizes and binding constraints, then the verified changes.</summary>
public static class AdviceTables
{
    public static IReadOnlyList<ReportTable> Render(AdviceResult result) => [Slots(result), Suggestions(result)];

    /// <summary>
    /// Slot rows per policy. A VM of hundreds of slots (virtio-mem's) would bury the ones that matter, so past this
    /// many a policy shows the slots with the most faults, in slot order, and sums the rest in one row; the JSON
    /// output has every slot.
    /// </summary>
    public const int MaxSlotsPerPolicy = 16;

    public static ReportTable Slots(AdviceResult result)
    {
        var table = new ReportTable($"{result.Scenario}: the sizes each memslot's faults got, and what stopped a larger one",
            "policy", "slot", "mappings", "faults by size", "leaves at the end", "binding constraint", "faults", "can be lifted by");
        foreach (IGrouping<string, SlotAdvice> policySlots in result.Slots.GroupBy(s => s.Policy))
        {
            table.Section();
            Arch.Granule granule = result.Baselines.First(b => b.Policy == policySlots.Key).Granule;
            List<SlotAdvice> slots = [.. policySlots];
            HashSet<SlotAdvice> shown = slots.Count <= MaxSlotsPerPolicy
                ? [.. slots]
                : [.. slots.OrderByDescending(Faults).ThenBy(s => s.SlotId).Take(MaxSlotsPerPolicy)];
            foreach (SlotAdvice slot in slots)
            {
                if (shown.Contains(slot))
                    AddSlot(table, slot, granule);
            }
            if (shown.Count < slots.Count)
                AddFolded(table, policySlots.Key, [.. slots.Where(s => !shown.Contains(s))], granule);
        }
        foreach (SlotAdvice slot in result.Slots.Where(s => s.Source is not null).DistinctBy(s => s.SlotId))
            table.Notes.Add($"slot {slot.SlotId}: from {slot.Source}");
        return table;
    }

    public static ReportTable Suggestions(AdviceResult result)
    {
        var table = new ReportTable("Changes that lift them, each verified by running the changed scenario (most estimated time saved first)",
            "#", "kind", "target", "policy", "faults", "leaves at the end", "page tables", "TLBIs", "host time", "guest time (TLB)", "estimated time", "saved");
        for (int i = 0; i < result.Suggestions.Count; i++)
        {
            Suggestion s = result.Suggestions[i];
            table.Add($"{i + 1}", ChangeKinds.Name(s.Change.Kind), AdviceText.Target(s.Change), s.Policy,
                Arrow(Format.Count(s.Before.Faults), Format.Count(s.After.Faults)),
                Arrow(Leaves(s.Before.Leaves, s.Before.Granule), Leaves(s.After.Leaves, s.After.Granule)),
                Arrow(Format.Bytes(s.Before.TableBytes), Format.Bytes(s.After.TableBytes)),
                Arrow(Format.Count(s.Before.TlbInvalidations), Format.Count(s.After.TlbInvalidations)),
                Arrow(Format.Duration(s.Before.HostEstimatedNs), Format.Duration(s.After.HostEstimatedNs)),
                Arrow(Format.Duration(s.Before.GuestEstimatedNs), Format.Duration(s.After.GuestEstimatedNs)),
                Arrow(Format.Duration(s.Before.EstimatedNs), Format.Duration(s.After.EstimatedNs)),
                Format.Duration(s.SavedNs));
        }
        // Each change once, with the ranks it has under the policies that gained from it.
        foreach (var same in result.Suggestions.Select((s, i) => (Suggestion: s, Rank: i + 1)).GroupBy(x => x.Suggestion.Change.Key))
        {
            Suggestion s = same.First().Suggestion;
            string ranks = string.Join(", ", same.Select(x => "#" + x.Rank));
            string sources = string.Concat(s.Sources.Select(x => $" [{x.Item} from {x.Records}]"));
            table.Notes.Add($"{ranks} {ChangeKinds.Name(s.Change.Kind)} {AdviceText.Target(s.Change)}: {AdviceText.Change(s.Change)}. Lifts {AdviceText.Constraint(s)}.{sources}");
        }
        if (result.Suggestions.Count == 0)
            table.Notes.Add("No change that was tried saved time.");
        int tried = result.Suggestions.Count + result.NotShown.Count;
        table.Notes.Add(result.Baselines.FirstOrDefault(b => b.TlbProfile is not null)?.TlbProfile is { } tlb
            ? $"Estimated time = host time (cost model) + guest translation time (TLB model, {tlb.Name}; docs/tlb-model.md)."
            : "Estimated time = host time (cost model); the guest TLB model was off (--tlb off).");
        table.Notes.Add($"Tried {tried} change(s) in {result.Runs} runs ({result.Policies.Count} of the scenario as it is); {result.NotShown.Count} not shown:");
        foreach (TriedChange t in result.NotShown)
            table.Notes.Add($"  {ChangeKinds.Name(t.Change.Kind)} {AdviceText.Target(t.Change)} under {t.Policy}: {AdviceText.Reason(t)}");
        return table;
    }

    private static void AddSlot(ReportTable table, SlotAdvice slot, Arch.Granule granule)
    {
        string[] head = [slot.Policy, $"{slot.SlotId}: {Format.Hex(slot.Ipa)} +{SizeText.Format(slot.SizeBytes)}", string.Join(", ", slot.Mappings), Sizes(slot), Leaves(slot.LeavesAtEnd, granule)];
        if (slot.Constraints.Count == 0)
        {
            table.Add([.. head, slot.FaultSizes.Count == 0 ? "(no faults)" : "none: the largest block", "", ""]);
            return;
        }
        for (int i = 0; i < slot.Constraints.Count; i++)
        {
            SlotConstraint c = slot.Constraints[i];
            string[] first = i == 0 ? head : ["", "", "", "", ""];
            table.Add([.. first, $"{c.Step.Function}: {DecisionText.Describe(c.Step, c.Representative)}", Format.Count(c.Count),
                c.Levers.Count == 0 ? "(no layout change)" : string.Join(", ", c.Levers.Select(ChangeKinds.Name))]);
        }
    }

    /// <summary>One row for the slots a policy does not show one by one: their faults by size and leaves, summed.</summary>
    private static void AddFolded(ReportTable table, string policy, List<SlotAdvice> slots, Arch.Granule granule)
    {
        var sizes = new SortedDictionary<ulong, long>();
        long atCreation = 0;
        var leaves = new long[slots.Max(s => s.LeavesAtEnd.Count)];
        foreach (SlotAdvice slot in slots)
        {
            foreach (SizeCount c in slot.FaultSizes)
                sizes[c.SizeBytes] = sizes.GetValueOrDefault(c.SizeBytes) + c.Faults;
            atCreation += slot.PagesMappedAtCreation;
            for (int level = 0; level < slot.LeavesAtEnd.Count; level++)
                leaves[level] += slot.LeavesAtEnd[level];
        }
        string faultSizes = Sizes([.. sizes.Select(kv => new SizeCount(kv.Key, kv.Value))], atCreation);
        table.Add(policy, $"… {Format.Count(slots.Count)} more slots", "", faultSizes, Leaves(leaves, granule),
            "(none with more faults than the slots above; --format json lists every slot)", Format.Count(sizes.Values.Sum()), "");
    }

    private static long Faults(SlotAdvice slot) => slot.FaultSizes.Sum(s => s.Faults) + slot.PagesMappedAtCreation;

    private static string Sizes(SlotAdvice slot) => Sizes(slot.FaultSizes, slot.PagesMappedAtCreation);

    private static string Sizes(IReadOnlyList<SizeCount> faultSizes, long pagesMappedAtCreation)
    {
        var parts = faultSizes.Select(s => $"{Format.Count(s.Faults)}×{SizeText.Format(s.SizeBytes)}").ToList();
        if (pagesMappedAtCreation > 0)
            parts.Add($"{Format.Count(pagesMappedAtCreation)} pages at creation");
        return parts.Count == 0 ? "-" : string.Join(" ", parts);
    }

    /// <summary>Non-zero leaf counts by size: "16×1G 3×2M".</summary>
    public static string Leaves(IReadOnlyList<long> leaves, Arch.Granule granule)
    {
        var parts = new List<string>();
        for (int level = 0; level < leaves.Count; level++)
        {
            if (leaves[level] != 0)
                parts.Add($"{Format.Count(leaves[level])}×{SizeText.Format(granule.LevelSize(level))}");
        }
        return parts.Count == 0 ? "0" : string.Join(" ", parts);
    }

    private static string Arrow(string before, string after) => before == after ? before : $"{before} → {after}";
}
