using Stage2Lab.Kvm;
using Stage2Lab.Simulation.Scenarios;

namespace Stage2Lab.Simulation.Advice;

/// <summary>One slot of a split: its id, guest range, the mapping behind it, and whether it is still dirty-logged.</summary>
public readonly record struct SplitPiece(int Id, ulong Ipa, ulong SizeBytes, string Mapping, bool Logged);

/// <summary>
/// split-slot: a dirty-logged memslot that spans several mappings becomes one slot per mapping, and one of them
/// (<see cref="Unlogged"/>) is no longer logged. Dirty logging is a property of a whole slot (memslot_is_logging:
/// a dirty bitmap and not READONLY), and while it is on every fault of the slot maps a page; a VMM that must track
/// only part of a slot's memory (guest RAM for a migration, not a device's or a framebuffer's) can log only that
/// part once it is a slot of its own. Every other constraint is per VMA or per block, or is the slot's
/// IPA-to-HVA offset (fault_supports_stage2_huge_mapping), which splitting does not change — so splitting is
/// tried only for logging.
/// </summary>
public sealed record SplitSlotChange(int Slot, string Unlogged, IReadOnlyList<SplitPiece> Pieces) : ScenarioChange
{
    public override ChangeKind Kind => ChangeKind.SplitSlot;

    public override int? SlotId => Slot;

    public override IReadOnlyList<string> Mappings => [.. Pieces.Select(p => p.Mapping)];

    public override string Key => $"split-slot:{Slot}:{Unlogged}:{string.Join(",", Pieces.Select(p => $"{p.Id}@{p.Ipa:x}"))}";

    protected override void ApplyTo(Scenario copy)
    {
        int at = copy.Memslots.FindIndex(x => x.Id == Slot);
        MemslotSpec original = copy.Memslots[at];
        copy.Memslots.RemoveAt(at);
        copy.Memslots.InsertRange(at, Pieces.Select(p => new MemslotSpec
        {
            Id = p.Id,
            Ipa = p.Ipa,
            SizeBytes = p.SizeBytes,
            Hva = original.Hva + (p.Ipa - original.Ipa),
            Flags = p.Logged ? original.Flags : original.Flags & ~MemslotFlags.LogDirtyPages,
            Where = original.Where,
        }));
        // The slot's dirty-log events become the logged pieces' events.
        for (int i = copy.Timeline.Count - 1; i >= 0; i--)
        {
            TimelineEvent ev = copy.Timeline[i];
            if (!IsLogEventOf(ev, Slot))
                continue;
            copy.Timeline.RemoveAt(i);
            copy.Timeline.InsertRange(i, Pieces.Where(p => p.Logged).Select(p => ForPiece(ev, p.Id)));
        }
    }

    /// <summary>
    /// One split per mapping of a dirty-logged slot created at the start that spans two or more mappings, that
    /// mapping's slot no longer logged; none when the slot is created, moved or deleted in the timeline, cleared
    /// page by page, or there are not enough free slot ids.
    /// </summary>
    public static IEnumerable<SplitSlotChange> Propose(Scenario s, DecisionRecord record, DecisionStep step)
    {
        if (record.Slot is not { } slot || step is not (ForcePteStep { Reason: ForcePteReason.DirtyLogging } or MaxMapSizeStep { Reason: MaxMapSizeReason.DirtyLogging }))
            yield break;
        if (ScenarioLayout.SlotSpecs(s, slot.Id).Count() != 1 || s.Memslots.Count(x => x.Id == slot.Id) != 1 || ScenarioLayout.SlotIsMovedOrDeleted(s, slot.Id)
            || s.Timeline.Any(ev => ev is ClearDirtyLogEvent c && c.SlotId == slot.Id && (c.FirstPage != 0 || c.NumPages != 0)))
            yield break;
        List<VmaSpec> group = ScenarioLayout.MappingsOver(s, slot.Hva, slot.SizeBytes);
        if (group.Count < 2)
            yield break;
        int firstNewId = ScenarioLayout.AllSlotSpecs(s).Max(x => x.Id) + 1;
        if (firstNewId + group.Count - 1 > s.Vm.MaxSlots)
            yield break;
        foreach (VmaSpec unlogged in group)
        {
            var pieces = new List<SplitPiece>();
            int nextId = firstNewId;
            foreach (VmaSpec m in group)
            {
                ulong hva = Math.Max(m.Start, slot.Hva);
                ulong end = Math.Min(m.Start + m.SizeBytes, slot.HvaEnd);
                pieces.Add(new SplitPiece(pieces.Count == 0 ? slot.Id : nextId++, slot.Ipa + (hva - slot.Hva), end - hva, m.Name, m != unlogged));
            }
            yield return new SplitSlotChange(slot.Id, unlogged.Name, pieces);
        }
    }

    private static bool IsLogEventOf(TimelineEvent ev, int slot) => ev switch
    {
        DirtyLogEvent l => l.SlotId == slot,
        GetDirtyLogEvent g => g.SlotId == slot,
        ClearDirtyLogEvent c => c.SlotId == slot,
        _ => false,
    };

    private static TimelineEvent ForPiece(TimelineEvent ev, int id)
    {
        TimelineEvent copy = ScenarioCopy.Event(ev);
        switch (copy)
        {
            case DirtyLogEvent l: l.SlotId = id; break;
            case GetDirtyLogEvent g: g.SlotId = id; break;
            case ClearDirtyLogEvent c: c.SlotId = id; break;
        }
        return copy;
    }
}
